/** A 405 with an `Allow` header for a method a known path does not take, from the route table. */
import type { Hono } from 'hono';
import { errorBody } from '../errors.ts';
import type { Method, Route } from '../route.ts';

/** The order `Allow` lists methods in. */
const ORDER: readonly Method[] = ['get', 'post', 'put', 'patch', 'delete'];

/** Each path of `routes` answers the methods it does not take with 405; a path `all` takes none. */
export const refuseOtherMethods = (app: Hono, routes: readonly Route[]): void => {
  const taken = new Map<string, Set<Method | 'all'>>();
  for (const { path, method } of routes)
    taken.set(path, (taken.get(path) ?? new Set()).add(method));
  for (const [path, methods] of taken) {
    if (methods.has('all')) continue;
    const allow = ORDER.filter((m) => methods.has(m))
      .map((m) => m.toUpperCase())
      .join(', ');
    app.all(path, (c) =>
      c.json(
        errorBody('method_not_allowed', `${c.req.method} is not allowed on ${path}; use ${allow}`),
        405,
        { Allow: `${allow}, OPTIONS` },
      ),
    );
  }
};
