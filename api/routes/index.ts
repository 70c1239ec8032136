/**
 * Every route the app serves, in one table gathered from each resource's own. The app mounts
 * them in this order, the JSON API's paths answer other methods with 405 and the methods they
 * take, and `/openapi.json` lists them all.
 * @module
 */
import type { Route } from '../route.ts';
import { docsRoutes } from './docs.ts';
import { eventRoutes } from './events.ts';
import { functionRoutes } from './functions.ts';
import { handlerRoutes } from './handlers.ts';
import { pageRoutes } from './pages.ts';
import { serverRoutes } from './server.ts';
import { taskRoutes } from './tasks.ts';

/** The JSON API: another method on one of its paths gets 405 with `Allow`. */
export const API_ROUTES: readonly Route[] = [
  ...serverRoutes,
  ...functionRoutes,
  ...taskRoutes,
  ...eventRoutes,
  ...handlerRoutes,
];

/** The pages and the document they read: like files, another method is not found (404). */
const PAGE_ROUTES: readonly Route[] = [...docsRoutes, ...pageRoutes];

export const ROUTES: readonly Route[] = [...API_ROUTES, ...PAGE_ROUTES];
