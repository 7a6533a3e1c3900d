import { buildServerBundle } from '../../scripts/build-server';

/** The app nodes are the built server (dist/server/index.js), as `npm start` runs it. */
export default async function setup(): Promise<void> {
  await buildServerBundle();
}
