/**
 * The pages (dashboard, API reference) and their files, read through the host's `AssetReader`,
 * and the OpenAPI document they read: all without a token, and like static files, another method
 * is not found rather than refused.
 */
import { describe, expect, it } from 'vitest';
import { expectError, fakeApp } from '../../test/support/fake-app.ts';
import { openApiPath, servedRoutes } from '../openapi.ts';
import { ROUTES } from './index.ts';

const FILES: Record<string, string> = {
  './api/pages/dashboard.html': '<!doctype html><title>dashboard</title>',
  './api/pages/docs.js': 'init();',
  'uplot/dist/uPlot.min.css': '.u{}',
};

const reader = async (file: string) =>
  FILES[file] === undefined ? undefined : new TextEncoder().encode(FILES[file]);

describe('the pages', () => {
  it('Should serve each file with its type, without a token', async () => {
    const { call } = fakeApp({}, { token: 'secret', assets: reader });
    for (const [path, type, text] of [
      ['/', 'text/html; charset=utf-8', FILES['./api/pages/dashboard.html']],
      ['/docs/init.js', 'text/javascript; charset=utf-8', 'init();'],
      ['/dashboard/uplot.css', 'text/css; charset=utf-8', '.u{}'],
    ]) {
      const a = await call(path as string);
      expect(a.status, path).toBe(200);
      expect(a.headers.get('Content-Type')).toBe(type);
      expect(a.headers.get('Cache-Control')).toBe('no-cache');
      expect(a.headers.get('X-Content-Type-Options')).toBe('nosniff');
      expect(a.body).toBe(text);
    }
  });

  it('Should answer 404 naming the file where the host has no reader or no such file', async () => {
    const without = fakeApp({});
    expectError(await without.call('/'), 404, 'not_found', './api/pages/dashboard.html');
    const partial = fakeApp({}, { assets: reader });
    expectError(await partial.call('/docs'), 404, 'not_found', '/docs is not available');
  });

  it('Should answer another method with 404, as for a file, and need a token for anything else', async () => {
    const { call } = fakeApp({}, { token: 'secret', assets: reader });
    for (const [method, path] of [
      ['POST', '/'],
      ['DELETE', '/docs/init.js'],
      ['PUT', '/openapi.json'],
    ]) {
      expectError(await call(path as string, { method }), 404, 'not_found', `${method} ${path}`);
    }
    expectError(await call('/dashboard/../package.json'), 401, 'unauthorized');
    expectError(await call('/docs/other.js'), 401, 'unauthorized');
  });
});

describe('GET /openapi.json', () => {
  it('Should describe exactly the routes the app serves, without a token', async () => {
    const { app, call } = fakeApp({}, { token: 'secret' });
    const a = await call('/openapi.json');
    expect(a.status).toBe(200);
    expect(a.body.openapi).toBe('3.1.0');
    const documented = Object.entries(a.body.paths as Record<string, object>).flatMap(
      ([path, item]) => Object.keys(item).map((method) => `${method} ${path}`),
    );
    // Every route served but a page's own files (scripts, styles, the icon), which are no operations.
    const hidden = new Set(ROUTES.filter((r) => r.hidden).map((r) => `get ${r.path}`));
    expect(hidden.size).toBeGreaterThan(5);
    expect(new Set(documented)).toEqual(
      new Set([...servedRoutes(app)].filter((route) => !hidden.has(route))),
    );
    expect(documented).toContain(`put ${openApiPath('/fn/:name/*')}`);
    const ids = documented.map((route) => {
      const [method, path] = route.split(' ') as [string, string];
      return a.body.paths[path][method].operationId;
    });
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('Should mark the routes that need no token, and only those', async () => {
    const { call } = fakeApp({});
    const { paths } = (await call('/openapi.json')).body;
    const open: string[] = [];
    for (const [path, item] of Object.entries(paths as Record<string, Record<string, object>>)) {
      for (const [method, op] of Object.entries(item)) {
        if ('security' in op) open.push(`${method} ${path}`);
      }
    }
    expect(open.sort()).toEqual(
      ['/', '/docs', '/health', '/openapi.json', '/ready'].map((path) => `get ${path}`).sort(),
    );
  });
});
