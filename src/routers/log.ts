import { router } from '../trpc';

export const logRouter = router({});
