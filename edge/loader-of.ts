/**
 * Which `IsolateLoader` the Worker and its objects use: the isolate host when the dev runner
 * bound one (`ISOLATE_HOST`, `npm run dev:workers`), else this workerd's Worker Loader.
 * @module
 */
import type { EdgeEnv } from './env.ts';
import { gateOf } from './gate.ts';
import { type IsolateLoader, localLoader } from './isolate-loader.ts';
import { remoteLoader } from './remote-loader.ts';

export const loaderOf = (env: EdgeEnv, ctx: { exports?: unknown }): IsolateLoader =>
  env.ISOLATE_HOST
    ? remoteLoader(env.ISOLATE_HOST, env.ISOLATE_SUPERVISOR)
    : localLoader(env.LOADER, gateOf(ctx));
