/**
 * In a real browser (Debian's Chromium through playwright-core) against a real server: the
 * typed client bundled for the page (calls, events, abort, errors) from another origin; the
 * dashboard the server serves (token prompt, functions, charts that start from the server's
 * recent history and move during a burst, a scaling decision with its reason, the invoke form
 * without handler-only functions, the task view with its error, logs, arguments, times, copied id
 * and retry, the icon, a phone's layout), with screenshots at 1280x800 and 390x844 (into docs/
 * with EBBFLOW_SCREENSHOTS=docs, else test-artifacts/); and "Try it out" on `/docs`.
 */
import { mkdir } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { fileURLToPath } from 'node:url';
import { serve } from '@hono/node-server';
import { build } from 'esbuild';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../api/app.ts';
import { Metrics } from '../api/metrics.ts';
import { VERSION } from '../api/version.ts';
import type { Runtime } from '../runtime/index.ts';
import { readAsset } from '../server/assets.ts';
import { CHROMIUM, CHROMIUM_FLAGS, HAS_CHROMIUM, listenOnLoopback } from './support/browser.ts';
import { startNodeRuntime } from './support/node-runtime.ts';

const TOKEN = 'dashboard-secret';
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const ARTIFACTS = `${ROOT}test-artifacts`;
/** Where the two screenshots go: docs/ (what README shows) when asked, else with the artifacts. */
const SCREENSHOTS = process.env.EBBFLOW_SCREENSHOTS === 'docs' ? `${ROOT}docs` : ARTIFACTS;
const FUNCTIONS = `${ROOT}test/fixtures/browser/`;

describe.skipIf(!HAS_CHROMIUM)('in a browser', () => {
  let browser: Browser;
  let runtime: Runtime;
  let api: ReturnType<typeof serve>;
  let apiUrl: string;
  let pageServer: Server;
  let pageUrl: string;

  beforeAll(async () => {
    runtime = await startNodeRuntime(FUNCTIONS, { maxWorkers: 4, monitorIntervalMs: 500 });
    const app = createApp({
      runtime,
      metrics: new Metrics(),
      token: TOKEN,
      assets: readAsset,
      log: () => {},
      statsHistorySeconds: 180,
    });
    apiUrl = await new Promise<string>((resolve) => {
      api = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, (info) =>
        resolve(`http://127.0.0.1:${info.port}`),
      );
    });
    // The client as a browser gets it: one ES module bundled from client/index.ts.
    const bundle = await build({
      entryPoints: [`${ROOT}client/index.ts`],
      bundle: true,
      format: 'esm',
      platform: 'browser',
      write: false,
    });
    const clientJs = bundle.outputFiles[0]?.text ?? '';
    pageServer = createServer((req, res) => {
      if (req.url === '/client.js') {
        res.writeHead(200, { 'Content-Type': 'text/javascript' }).end(clientJs);
      } else {
        res
          .writeHead(200, { 'Content-Type': 'text/html' })
          .end('<!doctype html><title>app</title>');
      }
    });
    pageUrl = await listenOnLoopback(pageServer);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_FLAGS });
    await mkdir(ARTIFACTS, { recursive: true });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    api?.close();
    pageServer?.close();
    await runtime?.close({ drainTimeoutMs: 1000 });
  });

  /** Run `body` in a page of the other origin with `client` made for the API. */
  const withClient = async (body: string, token = TOKEN): Promise<unknown> => {
    const page = await browser.newPage();
    try {
      await page.goto(pageUrl);
      return await page.evaluate(`(async () => {
        const { createClient, EbbflowClientError } = await import('/client.js');
        const client = createClient({ baseUrl: ${JSON.stringify(apiUrl)}, token: ${JSON.stringify(token)} });
        ${body}
      })()`);
    } finally {
      await page.close();
    }
  };

  it('Should invoke, submit and wait, list functions and read stats from the page', async () => {
    const answer = await withClient(`
      const doubled = await client.invoke('echo', [21]);
      const queued = await client.submit('slow', [50]);
      const done = await client.result(queued.id, { wait: 10000 });
      const names = (await client.functions()).map((f) => f.name);
      const stats = await client.stats();
      const page = await (await client.fetch('echo', '/from/page?q=1')).json();
      return { doubled, queued: queued.status, done: done.status, result: done.result, names,
               hasStats: typeof stats.activeWorkers, page };
    `);
    expect(answer).toMatchObject({
      doubled: 42,
      queued: 'queued',
      done: 'completed',
      result: 50,
      hasStats: 'number',
      page: { method: 'GET', path: '/from/page', query: { q: '1' }, authorization: null },
    });
    expect((answer as { names: string[] }).names).toEqual(expect.arrayContaining(['echo', 'slow']));
  });

  it('Should read events with the bearer token, and end them on abort', async () => {
    const answer = await withClient(`
      const controller = new AbortController();
      const seen = [];
      const reading = (async () => {
        for await (const event of client.events({ types: ['task'], function: 'echo', signal: controller.signal })) {
          seen.push(event.data.status);
          if (event.data.status === 'completed') controller.abort();
        }
        return 'ended';
      })();
      await new Promise((r) => setTimeout(r, 300));
      await client.submit('echo', [1]);
      const ended = await reading;
      const watched = [];
      const task = await client.submit('slow', [100]);
      for await (const record of client.watch(task.id)) watched.push(record.status);
      return { seen, ended, watched };
    `);
    const { seen, ended, watched } = answer as { seen: string[]; ended: string; watched: string[] };
    expect(ended).toBe('ended');
    expect(seen).toContain('queued');
    expect(seen.at(-1)).toBe('completed');
    expect(watched.at(-1)).toBe('completed');
  });

  it('Should abort a call, and throw one error class with status and code', async () => {
    const answer = await withClient(`
      const task = await client.submit('slow', [3000]);
      const controller = new AbortController();
      const waiting = client.result(task.id, { wait: 30000, signal: controller.signal });
      setTimeout(() => controller.abort(), 100);
      const aborted = await waiting.then(() => 'resolved', (e) => [e instanceof EbbflowClientError, e.status, e.code]);
      const missing = await client.invoke('nothing', []).catch((e) => [e instanceof EbbflowClientError, e.status, e.code]);
      const bad = await client.submit('echo', [1], { timeoutMs: -1 }).catch((e) => [e.status, e.code, e.details?.[0]?.field]);
      const failed = await client.invoke('fails', []).catch((e) => [e.status, e.code]);
      return { aborted, missing, bad, failed };
    `);
    expect(answer).toEqual({
      aborted: [true, 0, 'aborted'],
      missing: [true, 404, 'unknown_function'],
      bad: [400, 'invalid_body', 'timeoutMs'],
      failed: [500, 'function_threw'],
    });
    const refused = await withClient(
      `return client.stats().catch((e) => [e.status, e.code]);`,
      'wrong-token',
    );
    expect(refused).toEqual([401, 'unauthorized']);
  });

  /** Requests of the page that failed or answered 404 (the icon included). */
  const missing: string[] = [];
  const openDashboard = async (width: number, height: number): Promise<Page> => {
    const page = await browser.newPage({ viewport: { width, height } });
    page.on('response', (response) => {
      if (response.status() === 404) missing.push(response.url());
    });
    page.on('requestfailed', (request) => missing.push(request.url()));
    await page.goto(`${apiUrl}/`);
    // The token prompt, once; the token then stays in this tab.
    await page.getByLabel('Server token').fill('not-it');
    await page.getByRole('button', { name: 'Connect' }).click();
    await page.getByText('That token was refused').waitFor();
    await page.getByLabel('Server token').fill(TOKEN);
    await page.getByRole('button', { name: 'Connect' }).click();
    await page.locator('#functions tbody tr[data-function="slow"]').waitFor();
    await page.getByText('Live').waitFor();
    return page;
  };

  it("Should start its charts from the server's recent history", async () => {
    // A burst that has come and gone before the page opens.
    const burst = await Promise.all(
      Array.from({ length: 12 }, () => runtime.submit('slow', [300])),
    );
    await Promise.all(burst.map((task) => runtime.wait(task.id, 30_000)));
    const page = await openDashboard(1280, 800);
    try {
      const chart = page.locator('figure[data-chart="slow"]');
      // Seconds before the page opened, the queue of that burst included.
      await expect
        .poll(async () => Number(await chart.getAttribute('data-points')), { timeout: 15_000 })
        .toBeGreaterThan(2);
      expect(Number(await chart.getAttribute('data-peak-queue'))).toBeGreaterThan(0);
    } finally {
      await page.close();
    }
  }, 120_000);

  it('Should show functions, a moving chart, scaling with reasons, tasks and invoke', async () => {
    const page = await openDashboard(1280, 800);
    try {
      const names = await page.locator('#functions tbody th').allTextContents();
      expect(names).toEqual(expect.arrayContaining(['echo', 'slow', 'chatty', 'fails']));
      expect(await page.evaluate(() => sessionStorage.getItem('ebbflow.token'))).toBe(TOKEN);
      // A function with only a fetch export runs no tasks: not offered to invoke, linked instead.
      const offered = await page.locator('#invoke-function option').allTextContents();
      expect(offered).toEqual(expect.arrayContaining(['echo', 'slow', 'fib']));
      expect(offered).not.toContain('fails');
      await expect
        .poll(() => page.locator('#handlers-note a').allTextContents(), { timeout: 30_000 })
        .toEqual(['/fn/bytes/', '/fn/fails/']);

      // A burst: the queue grows, the pool scales up, the chart shows it.
      await Promise.all(Array.from({ length: 30 }, () => runtime.submit('slow', [400])));
      const chart = page.locator('figure[data-chart="slow"]');
      await expect
        .poll(async () => Number(await chart.getAttribute('data-peak-queue')), { timeout: 30_000 })
        .toBeGreaterThan(0);
      await expect
        .poll(async () => Number(await chart.getAttribute('data-peak-workers')), {
          timeout: 30_000,
        })
        .toBeGreaterThan(1);
      const decision = page.locator('#scaling li[data-action="up"]').first();
      await decision.waitFor({ timeout: 30_000 });
      expect(await decision.textContent()).toMatch(/slow: up .*load/i);
      await page.locator('#tasks tbody tr').first().waitFor();

      // Logs of a task show in its row.
      await runtime.call('chatty', ['dash', 1]);
      await page.locator('#tasks details summary', { hasText: '3 lines' }).first().click();
      await page.getByText('dash line 0').waitFor();

      await page.getByLabel('Function', { exact: true }).selectOption('echo');
      await page.getByLabel('Arguments (a JSON array)').fill('[5]');
      await page.getByRole('button', { name: 'Invoke' }).click();
      await expect
        .poll(() => page.locator('#invoke-result').textContent(), { timeout: 15_000 })
        .toMatch(/completed in \d+ ms: 10/);
      await page.evaluate(() => window.scrollTo(0, 0));
      await page.screenshot({ path: `${SCREENSHOTS}/dashboard-1280x800.png` });
      await page.screenshot({ path: `${ARTIFACTS}/dashboard-1280-full.png`, fullPage: true });
      // Every file of the page loaded, its icon included.
      expect(missing).toEqual([]);
    } finally {
      await page.close();
    }
  }, 120_000);

  it('Should open a task: its error, code, logs, arguments and times, copy its id, and run it again', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: apiUrl });
    const page = await context.newPage();
    try {
      await page.goto(`${apiUrl}/`);
      await page.getByLabel('Server token').fill(TOKEN);
      await page.getByRole('button', { name: 'Connect' }).click();
      await page.getByText('Live').waitFor();
      await page.getByLabel('Function', { exact: true }).selectOption('boom');
      await page.getByLabel('Arguments (a JSON array)').fill('[3]');
      await page.getByRole('button', { name: 'Invoke' }).click();
      await expect
        .poll(() => page.locator('#invoke-result').textContent(), { timeout: 30_000 })
        .toMatch(/^failed: RangeError: 3 is not allowed/);
      const id = (await page.evaluate(() =>
        [...document.querySelectorAll('#tasks tbody tr')].map((r) => r.getAttribute('data-task')),
      )) as string[];
      const row = page.locator(`#tasks tbody tr[data-task="${id[0]}"]`);
      // The code is in the row itself, not in a tooltip.
      await expect
        .poll(() => row.locator('td').nth(2).textContent(), { timeout: 30_000 })
        .toBe('failed · function_threw');
      await row.getByRole('button').click();
      const view = page.getByRole('dialog', { name: /Task of boom/ });
      await view.waitFor();
      expect(await view.locator('#task-id').textContent()).toBe(id[0]);
      expect(await view.locator('#task-error').textContent()).toContain(
        'RangeError: 3 is not allowed',
      );
      const fields = await view.locator('#task-fields').textContent();
      expect(fields).toContain('Error codefunction_threw');
      expect(fields).toMatch(/Submitted\d{4}-\d\d-\d\d \d\d:\d\d:\d\d/);
      expect(fields).toMatch(/Ran[\d.]+ ms/);
      expect(await view.locator('#task-logs').textContent()).toMatch(/ log: got 3$/);
      expect(JSON.parse((await view.locator('#task-args').textContent()) as string)).toEqual([3]);
      await view.getByRole('button', { name: 'Copy id' }).click();
      await view.getByText('Copied').waitFor();
      expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(id[0]);
      // The link to this view names the task.
      expect(new URL(page.url()).hash).toBe(`#task/${id[0]}`);
      await view.getByRole('button', { name: 'Run it again' }).click();
      await view.getByText(`Submitted as a new task, replaying ${id[0]}`).waitFor();
      await expect
        .poll(() => view.locator('#task-fields').textContent(), { timeout: 30_000 })
        .toContain(`Runs againtask ${id[0]}`);
      await expect
        .poll(() => view.locator('#task-title').textContent(), { timeout: 30_000 })
        .toBe('Task of boom · failed');
      await view.getByRole('button', { name: 'Close the task' }).click();
      expect(await view.isVisible()).toBe(false);
    } finally {
      await context.close();
    }
  }, 120_000);

  it('Should be usable on a phone-sized screen', async () => {
    const page = await openDashboard(390, 844);
    try {
      // Nothing wider than the screen but the tables, which scroll in their own box.
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth);
      expect(overflow).toBeLessThanOrEqual(390);
      // The form first, the charts after it.
      const invoke = await page.locator('#invoke-section').boundingBox();
      const charts = await page.locator('#charts-section').boundingBox();
      expect(invoke?.y).toBeLessThan(charts?.y ?? 0);
      // A time label is centred on its tick, and a tick can fall on the right edge of the plot: the
      // room on that side must hold half of the widest label, or the last one is cut in half.
      await expect
        .poll(() => page.locator('figure[data-chart="slow"]').getAttribute('data-points'), {
          timeout: 30_000,
        })
        .not.toBe('0');
      const cut = await page.evaluate(() => {
        type Plot = {
          width: number;
          bbox: { left: number; width: number };
          axes: { font: string[]; _values?: string[] }[];
        };
        const { charts } = (
          window as unknown as { ebbflowDashboard: { charts: Map<string, { plot: Plot }> } }
        ).ebbflowDashboard;
        const context = document
          .createElement('canvas')
          .getContext('2d') as CanvasRenderingContext2D;
        const checked: string[] = [];
        const out: string[] = [];
        for (const [name, { plot }] of charts) {
          const axis = plot.axes[0] as Plot['axes'][number];
          const values = axis._values ?? [];
          if (values.length === 0) continue;
          checked.push(name);
          context.font = axis.font[0] as string;
          const half = Math.max(...values.map((v) => context.measureText(v).width)) / 2;
          const edge = (plot.bbox.left + plot.bbox.width) / devicePixelRatio;
          if (edge + half > plot.width) out.push(`${name}: ${edge + half} > ${plot.width}`);
        }
        return { checked: checked.length, out };
      });
      expect(cut.checked).toBeGreaterThan(3);
      expect(cut.out).toEqual([]);
      await page.getByLabel('Arguments (a JSON array)').fill('[2]');
      await page.getByLabel('Function', { exact: true }).selectOption('echo');
      await page.getByRole('button', { name: 'Invoke' }).click();
      await expect
        .poll(() => page.locator('#invoke-result').textContent(), { timeout: 15_000 })
        .toMatch(/: 4$/);
      await page.evaluate(() => window.scrollTo(0, 0));
      await page.screenshot({ path: `${SCREENSHOTS}/dashboard-390x844.png` });
      await page.screenshot({ path: `${ARTIFACTS}/dashboard-390-full.png`, fullPage: true });
    } finally {
      await page.close();
    }
  }, 120_000);

  it('Should run "Try it out" on invoke in the API reference, with its example, to a completed task', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    try {
      await page.goto(`${apiUrl}/docs`);
      await page.getByText('/functions/{name}/invoke').first().waitFor({ timeout: 30_000 });
      // The server has a token: Authorize, as a person would.
      await page
        .getByRole('button', { name: /Authorize/ })
        .first()
        .click();
      await page.locator('.modal-ux input').first().fill(TOKEN);
      await page.locator('.modal-ux').getByRole('button', { name: 'Apply credentials' }).click();
      await page.locator('.modal-ux').getByRole('button', { name: 'Close' }).click();
      const operation = page.locator('#operations-tasks-postFunctionsNameInvoke');
      await operation.locator('.opblock-summary').click();
      // Try it out is on (tryItOutEnabled): the example fills the path and the body.
      expect(await operation.locator('input[placeholder="name"]').inputValue()).toBe('fib');
      expect(JSON.parse(await operation.locator('textarea.body-param__text').inputValue())).toEqual(
        {
          args: [20],
        },
      );
      await operation.getByRole('button', { name: 'Execute' }).click();
      const status = operation
        .locator('.live-responses-table .response .response-col_status')
        .first();
      await expect.poll(() => status.textContent(), { timeout: 30_000 }).toBe('200');
      const body = await operation
        .locator('.live-responses-table .microlight')
        .first()
        .textContent();
      expect(JSON.parse(body as string)).toMatchObject({ status: 'completed', result: 6765 });
      // The document's version is the package's, and a page's own files are no operations.
      expect(await page.locator('.info .version').first().textContent()).toContain(VERSION);
      expect(await page.getByText('/dashboard/app.js').count()).toBe(0);
    } finally {
      await page.close();
    }
  }, 90_000);
});
