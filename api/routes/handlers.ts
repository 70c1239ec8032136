/**
 * Functions as HTTP handlers: any method on `/fn/:name` and `/fn/:name/*` reaches the function's
 * `fetch` export with a Request of its own (the path after `/fn/<name>`, the query kept), and its
 * Response goes back as it is, with the CORS headers added.
 * @module
 */
import type { Context } from 'hono';
import { err } from '../responses.ts';
import { type Route, type RouteSpec, route } from '../route.ts';
import { FunctionNameParam } from '../schemas.ts';

const handler = (path: string): RouteSpec<'name', undefined, undefined> => ({
  method: 'all',
  path,
  summary: "Call a function's fetch export",
  description:
    'Any method. The function gets a Request whose path is the part after `/fn/<name>`, with the query, headers (minus Authorization when a server token is set) and body; its Response comes back as it is, with CORS headers added.',
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
    '504': err('The handler ran past its timeout (`handler_timed_out`).', 'handler_timed_out'),
  },
  handle: async (c, { runtime, token }, input) => {
    const name = input.param(c, 'name');
    const response = await runtime.handle(name, await innerRequest(c, name, token !== undefined));
    // The CORS headers the app set for this request, over whatever the function set.
    for (const [key, value] of c.res.headers) response.headers.set(key, value);
    return response;
  },
});

export const handlerRoutes: readonly Route[] = [
  route(handler('/fn/:name')),
  route(handler('/fn/:name/*')),
];

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
