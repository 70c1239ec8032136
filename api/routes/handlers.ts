/**
 * Functions as HTTP handlers: any method on `/fn/:name` and `/fn/:name/<rest>` reaches the
 * function's `fetch` export with the path `/<rest>`, the query, headers and body, and its
 * Response goes back as it is, with the app's CORS headers added.
 * @module
 */
import type { Context, Hono } from 'hono';
import type { Runtime } from '../../runtime/index.ts';
import { functionName } from '../schemas.ts';

export interface HandlerRouteOptions {
  runtime: Runtime;
  /** When a server token is set, `Authorization` is not passed on to functions. */
  token?: string;
}

export const registerHandlerRoutes = (app: Hono, { runtime, token }: HandlerRouteOptions): void => {
  const handle = async (c: Context) => {
    const name = functionName(c.req.param('name') as string);
    const response = await runtime.handle(name, await innerRequest(c, name, token !== undefined));
    // The CORS headers the app set for this request, over whatever the function set.
    for (const [key, value] of c.res.headers) response.headers.set(key, value);
    return response;
  };
  app.all('/fn/:name', handle);
  app.all('/fn/:name/*', handle);
};

/** The request as the function sees it: its own path below `/fn/<name>`, the query kept. */
const innerRequest = async (c: Context, name: string, hideAuthorization: boolean) => {
  const outer = new URL(c.req.url);
  const rest = outer.pathname.slice(`/fn/${name}`.length);
  const url = new URL(`${rest.startsWith('/') ? rest : `/${rest}`}${outer.search}`, outer.origin);
  const headers = new Headers(c.req.raw.headers);
  if (hideAuthorization) headers.delete('Authorization');
  const method = c.req.method;
  // Read whole (the body limit already held it to EBBFLOW_MAX_BODY_BYTES): it crosses as bytes.
  const body = method === 'GET' || method === 'HEAD' ? null : await c.req.arrayBuffer();
  return new Request(url, { method, headers, body });
};
