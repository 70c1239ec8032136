/**
 * Functions as HTTP handlers: any method on `/fn/:name` and `/fn/:name/*` reaches the function's
 * `fetch` export with a Request of its own (the server's origin, the path after `/fn/<name>`,
 * the query kept; no path can name another host), and its Response goes back as it is, with the
 * CORS headers added. `Authorization` never reaches it when the server has a token of its own.
 * @module
 */
import type { Context } from 'hono';
import type { HandlerRequest } from '../../runtime/index.ts';
import { err } from '../responses.ts';
import { type Route, type RouteSpec, route } from '../route.ts';
import { FunctionNameParam } from '../schemas.ts';

const handler = (path: string): RouteSpec<'name', undefined, undefined> => ({
  method: 'all',
  path,
  summary: "Call a function's fetch export",
  description:
    "Any method. The function gets a Request with the server's origin and the path after `/fn/<name>`, with the query, headers (minus Authorization when a server token, EBBFLOW_TOKEN or EBBFLOW_ADMIN_TOKEN, is set) and body; its Response comes back as it is, with CORS headers added.",
  tag: 'handlers',
  params: { name: FunctionNameParam },
  body: {
    media: '*/*',
    description: 'Passed on as it is (at most EBBFLOW_MAX_BODY_BYTES).',
    example: '{"text":"buy milk"}',
  },
  responses: {
    default: {
      description: "The function's own response.",
      media: '*/*',
      example: '{"id":1,"text":"buy milk"}',
    },
    '404': err(
      'No such function, or it has no fetch export (`no_fetch_handler`).',
      'no_fetch_handler',
    ),
    '500': err('The handler threw (`handler_failed`).', 'handler_failed'),
    '503': err('The function failed to load (`function_unavailable`).', 'function_unavailable'),
    '504': err('The handler ran past its timeout (`handler_timed_out`).', 'handler_timed_out'),
  },
  handle: async (c, { runtime, token, adminToken }, input) => {
    const name = input.param(c, 'name');
    // Either token set: Authorization is the server's, whatever it carries (a function must
    // never see a token, nor a near miss of one).
    const serverAuth = token !== undefined || adminToken !== undefined;
    const response = await runtime.handle(name, await innerRequest(c, serverAuth));
    // The CORS headers the app set for this request, over whatever the function set. Reading
    // them makes Hono hold a response of its own, and a handler's response returned over that
    // one is copied into a streamed one (twice the server's CPU per call, bench/NOTES.md): it is
    // dropped, and the function's response put in its place as it is.
    for (const [key, value] of c.res.headers) response.headers.set(key, value);
    c.res = undefined;
    c.res = response;
    return response;
  },
});

export const handlerRoutes: readonly Route[] = [
  route(handler('/fn/:name')),
  route(handler('/fn/:name/*')),
];

/**
 * The request as the function sees it: its own path below `/fn/<name>`, the query kept. As plain
 * data: the worker builds the function's `Request` from it, so none is built here only to be read
 * back (a `Request` with a body costs a stream to make and another to read, bench/NOTES.md).
 */
const innerRequest = async (c: Context, hideAuthorization: boolean): Promise<HandlerRequest> => {
  const headers: [string, string][] = [];
  // Names come lowercased from a Headers.
  for (const [key, value] of c.req.raw.headers) {
    if (!hideAuthorization || key !== 'authorization') headers.push([key, value]);
  }
  const method = c.req.method;
  // Read whole (the body limit already held it to EBBFLOW_MAX_BODY_BYTES): it crosses as bytes.
  const body = method === 'GET' || method === 'HEAD' ? null : await c.req.arrayBuffer();
  return { url: innerUrl(c.req.url), method, headers, body };
};

/**
 * The handler's URL: the outer request's origin, and the path after its first two segments
 * (`/fn/<name>`, however the name was encoded). The path is set as a path, so one that starts
 * with `//` stays a path and never becomes another host.
 */
export const innerUrl = (outerUrl: string): string => {
  const outer = new URL(outerUrl);
  const third = outer.pathname.indexOf('/', '/fn/'.length);
  const url = new URL(outer.origin);
  url.pathname = third < 0 ? '/' : outer.pathname.slice(third);
  url.search = outer.search;
  return url.href;
};
