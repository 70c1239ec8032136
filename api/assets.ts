/**
 * Static files the server ships with its pages (the dashboard, the API reference): which URL
 * serves which file, with its type. Reading them is the host's job (`AssetReader`, given by the
 * serve entry), so the API stays host-free; a host without one answers these URLs with 404.
 * @module
 */

/**
 * Reads a file the server ships: `./…` from the project's folder, anything else from an
 * installed package (`uplot/dist/uPlot.min.css`). Undefined when there is no such file.
 */
export type AssetReader = (file: string) => Promise<Uint8Array | undefined>;

export interface Asset {
  file: string;
  type: string;
}

const JS = 'text/javascript; charset=utf-8';
const CSS = 'text/css; charset=utf-8';
const HTML = 'text/html; charset=utf-8';

/** Every URL served from a file, and nothing else: no path from a request reaches the reader. */
export const ASSETS: Readonly<Record<string, Asset>> = {
  '/': { file: './api/pages/dashboard.html', type: HTML },
  '/dashboard/app.js': { file: './api/pages/dashboard.js', type: JS },
  '/dashboard/app.css': { file: './api/pages/dashboard.css', type: CSS },
  '/dashboard/uplot.js': { file: 'uplot/dist/uPlot.iife.min.js', type: JS },
  '/dashboard/uplot.css': { file: 'uplot/dist/uPlot.min.css', type: CSS },
  '/docs': { file: './api/pages/docs.html', type: HTML },
  '/docs/init.js': { file: './api/pages/docs.js', type: JS },
  '/docs/swagger-ui.js': { file: 'swagger-ui-dist/swagger-ui-bundle.js', type: JS },
  '/docs/swagger-ui.css': { file: 'swagger-ui-dist/swagger-ui.css', type: CSS },
};

/** Paths that need no token: the pages and their files (the page then asks for the token). */
export const isPublicPath = (path: string): boolean =>
  path === '/health' || path === '/openapi.json' || Object.hasOwn(ASSETS, path);
