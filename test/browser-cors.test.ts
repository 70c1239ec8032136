/**
 * A real browser (Debian's Chromium through playwright-core) on a page from one origin calls the
 * API on another: the preflight, a bearer token, a readable result and a readable 401 — and a
 * page from an origin that is not allowed cannot read anything.
 */
import { createServer, type Server } from 'node:http';
import { serve } from '@hono/node-server';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApi } from './fixtures/api-app.ts';
import { CHROMIUM, CHROMIUM_FLAGS, HAS_CHROMIUM, listenOnLoopback } from './support/browser.ts';

const TOKEN = 'browser-secret';

describe.skipIf(!HAS_CHROMIUM)('a browser on another origin', () => {
  let browser: Browser;
  let api: ReturnType<typeof serve>;
  let apiUrl: string;
  let allowedPage: string;
  let otherPage: string;
  const pages: Server[] = [];
  let stopRuntime: () => Promise<void>;

  beforeAll(async () => {
    for (let i = 0; i < 2; i++) {
      const page = createServer((_req, res) => {
        res
          .writeHead(200, { 'Content-Type': 'text/html' })
          .end('<!doctype html><title>client</title>');
      });
      pages.push(page);
    }
    allowedPage = await listenOnLoopback(pages[0] as Server);
    otherPage = await listenOnLoopback(pages[1] as Server);
    const { runtime, app } = await startApi({}, { token: TOKEN, corsOrigin: allowedPage });
    stopRuntime = () => runtime.close({ drainTimeoutMs: 1000 });
    apiUrl = await new Promise<string>((resolve) => {
      api = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, (info) =>
        resolve(`http://127.0.0.1:${info.port}`),
      );
    });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_FLAGS });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    api?.close();
    for (const page of pages) page.close();
    await stopRuntime?.();
  });

  const inPage = async (origin: string, script: string) => {
    const page = await browser.newPage();
    try {
      await page.goto(origin);
      return await page.evaluate(script);
    } finally {
      await page.close();
    }
  };

  it('Should invoke a function with a token and read the result', async () => {
    const answer = await inPage(
      allowedPage,
      `fetch(${JSON.stringify(`${apiUrl}/functions/echo/invoke`)}, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Authorization: 'Bearer ${TOKEN}' },
        body: JSON.stringify({ args: ['from', 'a browser'] }),
      }).then(async (r) => ({ status: r.status, body: await r.json() }))`,
    );
    expect(answer).toMatchObject({
      status: 200,
      body: { status: 'completed', result: ['from', 'a browser'] },
    });
  });

  it('Should let the page read a 401 and the Location of a new task', async () => {
    const answer = await inPage(
      allowedPage,
      `Promise.all([
        fetch(${JSON.stringify(`${apiUrl}/stats`)}).then(async (r) => ({ status: r.status, body: await r.json() })),
        fetch(${JSON.stringify(`${apiUrl}/functions/echo/tasks`)}, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', Authorization: 'Bearer ${TOKEN}' },
          body: '{}',
        }).then((r) => ({ status: r.status, location: r.headers.get('Location') })),
      ])`,
    );
    const [unauthorised, created] = answer as [
      { status: number; body: { error: { code: string } } },
      { status: number; location: string },
    ];
    expect(unauthorised.status).toBe(401);
    expect(unauthorised.body.error.code).toBe('unauthorized');
    expect(created.status).toBe(202);
    expect(created.location).toMatch(/^\/tasks\/[0-9a-f-]{36}$/);
  });

  it('Should keep a page from another origin from reading answers', async () => {
    const answer = await inPage(
      otherPage,
      `fetch(${JSON.stringify(`${apiUrl}/health`)}).then(() => 'read', (e) => 'blocked: ' + e.name)`,
    );
    expect(answer).toBe('blocked: TypeError');
  });
});
