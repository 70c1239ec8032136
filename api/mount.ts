/**
 * Mounting a route table on a Hono app: each route's guards, input readers and handler, made
 * once when the app is built, so a request pays for none of it.
 * @module
 */
import type { Handler, Hono } from 'hono';
import { inputOf } from './input.ts';
import type { Deps, Route } from './route.ts';

export const mountRoutes = (app: Hono, routes: readonly Route[], deps: Deps): void => {
  for (const route of routes) {
    const input = inputOf(route);
    const handler: Handler = (c) => route.handle(c, deps, input);
    const method = route.method.toUpperCase();
    // One at a time, as Hono registers a list: each is an entry of the route, in order.
    for (const h of [...(route.guards?.(deps) ?? []), handler]) {
      if (method === 'ALL') app.all(route.path, h);
      else app.on(method, route.path, h);
    }
  }
};
