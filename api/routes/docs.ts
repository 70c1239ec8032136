/**
 * `GET /openapi.json`: the OpenAPI 3.1 document of every route the app serves, generated from
 * the route table once, at the first request. The interactive page at `/docs` is one of the
 * pages (`pages.ts`) and reads this document.
 * @module
 */
import { openApiDocument } from '../openapi.ts';
import { type Route, route } from '../route.ts';
import { VERSION } from '../version.ts';

/** Each table's document, made at its first request (apps over the same table share it). */
const documents = new WeakMap<readonly Route[], Record<string, unknown>>();

export const docsRoutes: readonly Route[] = [
  route({
    method: 'get',
    path: '/openapi.json',
    summary: 'This document',
    tag: 'pages',
    public: true,
    responses: {
      '200': {
        description: 'OpenAPI 3.1.',
        media: 'application/json',
        example: { openapi: '3.1.0', info: { title: 'ebbflow', version: VERSION }, paths: {} },
      },
    },
    handle: (c, { routes }) => {
      let document = documents.get(routes);
      if (!document) {
        document = openApiDocument(VERSION, routes);
        documents.set(routes, document);
      }
      return c.json(document);
    },
  }),
];
