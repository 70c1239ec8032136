/**
 * Bearer-token auth for every route but the public ones (`/health`, the pages and their files,
 * and the OpenAPI document: `public` in the route table); preflight is answered before it runs.
 * Both tokens are hashed first and the digests compared in full, so the time taken says
 * nothing about how much of a guess was right, nor about the token's length.
 * @module
 */
import type { MiddlewareHandler } from 'hono';
import { ApiError } from './errors.ts';

const UNAUTHORIZED = { 'WWW-Authenticate': 'Bearer realm="ebbflow"' };

/**
 * Any of `tokens` lets a request through (the invoke token, and the admin token when set);
 * `open` paths need none.
 */
export const bearerAuth = (open: ReadonlySet<string>, tokens: string[]): MiddlewareHandler => {
  const expected = Promise.all(tokens.map(digest));
  return async (c, next) => {
    // The pages and their files load without it (a page then asks for the token).
    if (open.has(c.req.path)) return next();
    const given = bearerToken(c.req.header('Authorization'));
    if (given === undefined) {
      throw new ApiError(401, 'unauthorized', 'this server needs Authorization: Bearer <token>', {
        headers: UNAUTHORIZED,
      });
    }
    const got = await digest(given);
    let known = false;
    // Every token compared, whichever matches: the time says nothing about which one did.
    for (const token of await expected) known = equal(token, got) || known;
    if (!known) throw invalidToken();
    return next();
  };
};

/** The token of an `Authorization: Bearer <token>` header, or undefined. */
export const bearerToken = (header: string | undefined): string | undefined =>
  /^Bearer +(\S+) *$/i.exec(header ?? '')?.[1];

/** Whether `given` is `token`, compared in constant time. */
export const sameToken = async (given: string, token: string): Promise<boolean> =>
  equal(await digest(given), await digest(token));

export const invalidToken = () =>
  new ApiError(401, 'unauthorized', 'the bearer token is not valid', {
    headers: { 'WWW-Authenticate': 'Bearer realm="ebbflow", error="invalid_token"' },
  });

export const missingToken = (what: string) =>
  new ApiError(401, 'unauthorized', `${what} needs Authorization: Bearer <token>`, {
    headers: UNAUTHORIZED,
  });

const digest = async (text: string): Promise<Uint8Array> =>
  new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text)));

/** Constant time for equal lengths (digests always are). */
const equal = (a: Uint8Array, b: Uint8Array): boolean => {
  let diff = a.length ^ b.length;
  for (let i = 0; i < a.length; i++) diff |= (a[i] as number) ^ (b[i] as number);
  return diff === 0;
};
