/**
 * The OpenAPI document lists exactly the routes the app serves (read from the app itself, so a
 * route registered outside the route table fails here), it is generated from the request
 * schemas, and the pages and their files load without a token.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { servedRoutes } from '../api/openapi.ts';
import { ROUTES } from '../api/routes/index.ts';
import { readAsset } from '../server/assets.ts';
import { startApi } from './fixtures/api-app.ts';

const TOKEN = 'docs-secret';
type App = Awaited<ReturnType<typeof startApi>>['app'];

describe('the OpenAPI document and the reference page', () => {
  let app: App;
  let close: () => Promise<void>;
  let document: { openapi: string; paths: Record<string, Record<string, unknown>> };

  beforeAll(async () => {
    const started = await startApi({}, { token: TOKEN, assets: readAsset });
    app = started.app;
    close = () => started.runtime.close({ drainTimeoutMs: 500 });
    const response = await app.request('/openapi.json');
    expect(response.status).toBe(200);
    document = (await response.json()) as typeof document;
  }, 60_000);
  afterAll(() => close?.());

  it('Should list every route the app serves', () => {
    const documented = new Set(
      Object.entries(document.paths).flatMap(([path, item]) =>
        Object.keys(item).map((method) => `${method} ${path}`),
      ),
    );
    const served = servedRoutes(app);
    expect(served.size).toBeGreaterThan(20);
    // A route served from outside the table (api/routes/) is missing from the document; a page's
    // own files (marked hidden in the table) are served but no operations.
    const hidden = new Set(ROUTES.filter((r) => r.hidden).map((r) => `get ${r.path}`));
    expect([...served].filter((r) => !documented.has(r) && !hidden.has(r)).sort()).toEqual([]);
    expect([...hidden].filter((r) => documented.has(r))).toEqual([]);
  });

  it('Should be OpenAPI 3.1 built from the request schemas', () => {
    expect(document.openapi).toBe('3.1.0');
    const submit = document.paths['/functions/{name}/tasks']?.post as {
      requestBody: { content: { 'application/json': { schema: Record<string, unknown> } } };
    };
    const schema = submit.requestBody.content['application/json'].schema;
    // From TaskBody: unknown keys refused, the id rule, the timeout bounds.
    expect(schema.additionalProperties).toBe(false);
    expect(schema).toMatchObject({
      properties: {
        args: { type: 'array' },
        id: { type: 'string', pattern: expect.stringContaining('A-Za-z0-9._:-') },
        timeoutMs: { type: 'integer', minimum: 1 },
      },
    });
    const events = document.paths['/events']?.get as { parameters: { name: string }[] };
    expect(events.parameters.map((p) => p.name)).toEqual(['function', 'types']);
  });

  it('Should serve the pages and their files without a token, and nothing else', async () => {
    for (const [path, type] of [
      ['/', 'text/html'],
      ['/docs', 'text/html'],
      ['/docs/swagger-ui.js', 'text/javascript'],
      ['/docs/swagger-ui.css', 'text/css'],
      ['/dashboard/uplot.js', 'text/javascript'],
      ['/dashboard/app.js', 'text/javascript'],
    ] as const) {
      const response = await app.request(path);
      expect(response.status, path).toBe(200);
      expect(response.headers.get('content-type')).toContain(type);
      expect((await response.arrayBuffer()).byteLength).toBeGreaterThan(100);
    }
    expect((await app.request('/stats')).status).toBe(401);
    expect((await app.request('/dashboard/../package.json')).status).toBe(401);
  });
});
