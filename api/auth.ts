/**
 * Bearer-token auth for every route but `/health`, the pages and their files, and the OpenAPI
 * document (preflight is answered before it runs).
 * Both tokens are hashed first and the digests compared in full, so the time taken says
 * nothing about how much of a guess was right, nor about the token's length.
 * @module
 */
import type { MiddlewareHandler } from 'hono';
import { isPublicPath } from './assets.ts';
import { ApiError } from './errors.ts';

const UNAUTHORIZED = { 'WWW-Authenticate': 'Bearer realm="ebbflow"' };

export const bearerAuth = (token: string): MiddlewareHandler => {
  const expected = digest(token);
  return async (c, next) => {
    // The pages and their files load without it (a page then asks for the token).
    if (isPublicPath(c.req.path)) return next();
    const header = c.req.header('Authorization') ?? '';
    const match = /^Bearer +(\S+) *$/i.exec(header);
    if (!match) {
      throw new ApiError(401, 'unauthorized', 'this server needs Authorization: Bearer <token>', {
        headers: UNAUTHORIZED,
      });
    }
    if (!equal(await expected, await digest(match[1] as string))) {
      throw new ApiError(401, 'unauthorized', 'the bearer token is not valid', {
        headers: { 'WWW-Authenticate': 'Bearer realm="ebbflow", error="invalid_token"' },
      });
    }
    return next();
  };
};

const digest = async (text: string): Promise<Uint8Array> =>
  new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text)));

/** Constant time for equal lengths (digests always are). */
const equal = (a: Uint8Array, b: Uint8Array): boolean => {
  let diff = a.length ^ b.length;
  for (let i = 0; i < a.length; i++) diff |= (a[i] as number) ^ (b[i] as number);
  return diff === 0;
};
