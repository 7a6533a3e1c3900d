import { router } from '../trpc';
import { authRouter } from './auth';
import { directoryRouter } from './directory';
import { exportRouter } from './export';
import { goodsRouter } from './goods';
import { importRouter } from './import';
import { inviteRouter } from './invite';
import { logRouter } from './log';
import { reportRouter } from './report';
import { stocktakeRouter } from './stocktake';

export const appRouter = router({
  auth: authRouter,
  directory: directoryRouter,
  goods: goodsRouter,
  export: exportRouter,
  import: importRouter,
  invite: inviteRouter,
  log: logRouter,
  report: reportRouter,
  stocktake: stocktakeRouter,
});

export type AppRouter = typeof appRouter;
