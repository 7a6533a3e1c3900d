import { router } from '../trpc';
import { authRouter } from './auth';
import { directoryRouter } from './directory';
import { goodsRouter } from './goods';
import { inviteRouter } from './invite';
import { logRouter } from './log';
import { reportRouter } from './report';
import { stocktakeRouter } from './stocktake';

export const appRouter = router({
  auth: authRouter,
  directory: directoryRouter,
  goods: goodsRouter,
  invite: inviteRouter,
  log: logRouter,
  report: reportRouter,
  stocktake: stocktakeRouter,
});

export type AppRouter = typeof appRouter;
