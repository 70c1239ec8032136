/**
 * The pages at the edge (the dashboard at `/`, the API reference at `/docs`): their files are the
 * Worker's static assets (wrangler.toml's `[assets]`, copied there by `edge/build.ts`), read
 * through the `ASSETS` binding by the same page routes as every host. The Worker runs first for
 * every path, so the routes, their headers and the token rules stay the app's.
 * @module
 */
import type { Fetcher } from '@cloudflare/workers-types/latest/index.ts';
import type { AssetReader } from '../api/assets.ts';

/** Where the build puts a page file (`./api/pages/x` or a package's `uplot/dist/y`). */
export const assetPath = (file: string): string =>
  file.startsWith('./') ? file.slice(2) : `packages/${file}`;

/** The pages' files from the static assets; files never change while a version runs. */
export const edgeAssets = (assets: Fetcher | undefined): AssetReader => {
  const cache = new Map<string, Promise<Uint8Array | undefined>>();
  return (file) => {
    if (!assets) return Promise.resolve(undefined);
    let found = cache.get(file);
    if (!found) {
      found = (async () => {
        const res = await assets.fetch(`http://assets/${assetPath(file)}`);
        if (!res.ok) {
          await res.body?.cancel();
          return undefined;
        }
        return new Uint8Array(await res.arrayBuffer());
      })();
      // A failed read is not kept: the next request asks again.
      found.catch(() => cache.delete(file));
      cache.set(file, found);
    }
    return found;
  };
};
