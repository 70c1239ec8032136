/** A 405 with an `Allow` header for a method a known path does not take. */
import type { Hono } from 'hono';
import { errorBody } from '../errors.ts';

/** `routes` maps each path to the methods it takes, as the `Allow` header lists them. */
export const refuseOtherMethods = (app: Hono, routes: Readonly<Record<string, string>>): void => {
  for (const [path, allow] of Object.entries(routes)) {
    app.all(path, (c) =>
      c.json(
        errorBody('method_not_allowed', `${c.req.method} is not allowed on ${path}; use ${allow}`),
        405,
        { Allow: `${allow}, OPTIONS` },
      ),
    );
  }
};
