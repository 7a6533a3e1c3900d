import { router } from '../trpc';

export const goodsRouter = router({});
