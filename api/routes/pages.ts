/**
 * The pages the server serves itself (the dashboard at `/`, the API reference at `/docs`) and
 * their files, read through the host's `AssetReader`. They need no token: a page asks for it.
 * @module
 */
import type { Hono } from 'hono';
import { ASSETS, type AssetReader } from '../assets.ts';
import { ApiError } from '../errors.ts';

export const registerPageRoutes = (app: Hono, read: AssetReader | undefined): void => {
  for (const [path, asset] of Object.entries(ASSETS)) {
    app.get(path, async (c) => {
      const bytes = await read?.(asset.file);
      if (!bytes) {
        throw new ApiError(
          404,
          'not_found',
          `${path} is not available on this host (${asset.file})`,
        );
      }
      return c.body(bytes as Uint8Array<ArrayBuffer>, 200, {
        'Content-Type': asset.type,
        'Cache-Control': 'no-cache',
        'X-Content-Type-Options': 'nosniff',
      });
    });
  }
};
