/**
 * `GET /openapi.json`: the OpenAPI 3.1 document of every route the app serves (built once, from
 * `openapi.ts`).
 * The interactive page at `/docs` is one of the pages (`pages.ts`) and reads this document.
 * @module
 */
import type { Hono } from 'hono';
import { openApiDocument, servedRoutes } from '../openapi.ts';

/** The version of the HTTP contract the document describes. */
export const API_VERSION = '2.0.0';

export const registerDocsRoutes = (app: Hono): void => {
  let document: Record<string, unknown> | undefined;
  app.get('/openapi.json', (c) => {
    // Built at the first request, when every feature has registered its routes.
    document ??= openApiDocument(API_VERSION, servedRoutes(app));
    return c.json(document);
  });
};
