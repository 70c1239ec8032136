/**
 * The pages the server serves itself (the dashboard at `/`, the API reference at `/docs`) and
 * their files, read through the host's `AssetReader`: one route per file, and no path from a
 * request ever reaches the reader. They need no token: a page asks for it.
 * @module
 */
import { ApiError } from '../errors.ts';
import { type Route, route } from '../route.ts';

interface Page {
  path: string;
  /** `./…` from the project's folder, anything else from an installed package. */
  file: string;
  type: string;
  summary: string;
  /** A page's own file (script, styles, icon): served, but not an operation of the reference. */
  asset?: true;
}

const JS = 'text/javascript; charset=utf-8';
const CSS = 'text/css; charset=utf-8';
const HTML = 'text/html; charset=utf-8';
const SVG = 'image/svg+xml';

const PAGES: readonly Page[] = [
  { path: '/', file: './api/pages/dashboard.html', type: HTML, summary: 'The dashboard' },
  {
    path: '/dashboard/app.js',
    file: './api/pages/dashboard.js',
    type: JS,
    summary: "The dashboard's script",
    asset: true,
  },
  {
    path: '/dashboard/app.css',
    file: './api/pages/dashboard.css',
    type: CSS,
    summary: "The dashboard's styles",
    asset: true,
  },
  {
    path: '/dashboard/uplot.js',
    file: 'uplot/dist/uPlot.iife.min.js',
    type: JS,
    summary: 'uPlot, the chart library',
    asset: true,
  },
  {
    path: '/dashboard/uplot.css',
    file: 'uplot/dist/uPlot.min.css',
    type: CSS,
    summary: "uPlot's styles",
    asset: true,
  },
  {
    path: '/favicon.ico',
    file: './api/pages/favicon.svg',
    type: SVG,
    summary: "The pages' icon",
    asset: true,
  },
  {
    path: '/docs',
    file: './api/pages/docs.html',
    type: HTML,
    summary: 'This reference, interactive',
  },
  {
    path: '/docs/init.js',
    file: './api/pages/docs.js',
    type: JS,
    summary: "The reference page's script",
    asset: true,
  },
  {
    path: '/docs/swagger-ui.js',
    file: 'swagger-ui-dist/swagger-ui-bundle.js',
    type: JS,
    summary: 'Swagger UI',
    asset: true,
  },
  {
    path: '/docs/swagger-ui.css',
    file: 'swagger-ui-dist/swagger-ui.css',
    type: CSS,
    summary: "Swagger UI's styles",
    asset: true,
  },
];

/** Every file the pages read, as the host's `AssetReader` is asked for it (a host that bundles them reads this). */
export const PAGE_FILES: readonly string[] = PAGES.map((page) => page.file);

export const pageRoutes: readonly Route[] = PAGES.map(({ path, file, type, summary, asset }) =>
  route({
    method: 'get',
    path,
    summary,
    tag: 'pages',
    public: true,
    hidden: asset,
    responses: {
      '200': {
        description: summary,
        media: type.split(';')[0] as string,
        example: type === HTML ? '<!doctype html>…' : undefined,
      },
    },
    handle: async (c, { assets }) => {
      const bytes = await assets?.(file);
      if (!bytes) {
        throw new ApiError(404, 'not_found', `${path} is not available on this host (${file})`);
      }
      return c.body(bytes as Uint8Array<ArrayBuffer>, 200, {
        'Content-Type': type,
        'Cache-Control': 'no-cache',
        'X-Content-Type-Options': 'nosniff',
      });
    },
  }),
);
