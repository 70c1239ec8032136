/**
 * docs/api.md says it lists every route, setting, error code and metric: checked against the
 * app's own tables (the routes of api/routes/, server/settings.ts, the error codes and their
 * statuses, what /metrics renders, the request and record schemas), its links to its own
 * headings, and its example listening line against what the server prints for ./functions.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERROR_STATUS } from '../api/errors.ts';
import { Metrics } from '../api/metrics.ts';
import { FunctionInfoSchema, TaskRecordSchema } from '../api/responses.ts';
import type { Route } from '../api/route.ts';
import { API_ROUTES, ROUTES } from '../api/routes/index.ts';
import { TaskBody } from '../api/schemas.ts';
import { listeningLine } from '../server/launch.ts';
import { SETTINGS } from '../server/settings.ts';
import { FakeRuntime } from './support/fake-runtime.ts';
import { ROOT } from './support/server.ts';

const doc = readFileSync(join(ROOT, 'docs/api.md'), 'utf8');
const lines = doc.split('\n');

/** Every row of every markdown table, as its cells. */
const allRows = (): string[][] =>
  lines
    .filter((line) => line.startsWith('|') && !line.startsWith('| -'))
    .map((line) =>
      line
        .slice(1, -1)
        .split(' | ')
        .map((cell) => cell.trim()),
    );

/** The rows of the markdown tables by their first cell (the last row wins). */
const rows = (): Map<string, string[]> =>
  new Map(allRows().map((cells) => [cells[0] as string, cells]));

/** How the doc writes a route: `GET /tasks/:id`, `any method on /fn/:name`. */
const written = (route: Route): string =>
  route.method === 'all'
    ? `any method on ${route.path.replace(/\/\*$/, '/*')}`
    : `${route.method.toUpperCase()} ${route.path}`;

const shown = ROUTES.filter((route) => !route.hidden);

describe('docs/api.md', () => {
  it('Should list every route the app serves in its route table, and no other', () => {
    const table = [...rows().keys()]
      .map((cell) => cell.replaceAll('`', ''))
      .filter((cell) => /^(GET|PUT|POST|DELETE|any method on) /.test(cell))
      .flatMap((cell) => cell.split(', '));
    // One row may name two routes (`GET /`, `GET /docs`) or a path and its rest (`/fn/:name[/*]`).
    const expanded = table.flatMap((cell) =>
      cell.includes('[/*]') ? [cell.replace('[/*]', ''), cell.replace('[/*]', '/*')] : [cell],
    );
    const expected = shown.map(written);
    expect(expected.length).toBeGreaterThan(20);
    expect(expanded.filter((r) => !expected.includes(r)).sort()).toEqual([]);
    expect(expected.filter((r) => !expanded.includes(r)).sort()).toEqual([]);
  });

  it('Should give every route of the JSON API a section of its own', () => {
    // A heading names its route (`### GET /tasks/:id`); `[/*]` stands for a path and its rest.
    const headings = lines
      .filter((l) => l.startsWith('### '))
      .map((l) => l.slice(4).replaceAll('`', '').trim())
      .flatMap((h) =>
        h.includes('[/*]') ? [h.replace('[/*]', ''), h.replace('[/*]', '/*')] : [h],
      );
    const missing = API_ROUTES.map(written).filter((r) => !headings.includes(r));
    expect(missing).toEqual([]);
  });

  it('Should document every setting with its variable, flag and default, as server/settings.ts has them', () => {
    const table = rows();
    for (const setting of SETTINGS) {
      const row = table.get(`\`${setting.env}\``);
      expect(row, setting.env).toBeDefined();
      expect(row?.[1], setting.env).toBe(`\`${setting.flag}\``);
      const shownDefault = (row?.[2] ?? '').replaceAll('`', '');
      expect(shownDefault, setting.env).toBe(setting.default === '' ? 'unset' : setting.default);
    }
  });

  it('Should list every error code with the status the app answers it with', () => {
    const codes = new Map<string, string[]>();
    for (const cells of allRows()) {
      if (/^\d{3}$/.test(cells[0] as string))
        codes.set((cells[1] ?? '').replaceAll('`', ''), cells);
    }
    for (const [code, status] of Object.entries(ERROR_STATUS)) {
      expect(codes.get(code)?.[0], code).toBe(String(status));
    }
    for (const code of [
      'invalid_json',
      'invalid_body',
      'invalid_query',
      'invalid_name',
      'invalid_id',
      'payload_too_large',
      'unauthorized',
      'not_found',
      'method_not_allowed',
      'internal',
      'unsupported_media_type',
      'deploy_disabled',
      'forbidden',
    ]) {
      expect(codes.has(code), code).toBe(true);
    }
  });

  it('Should list every metric /metrics exposes, the cluster ones included', () => {
    const runtime = new FakeRuntime({ echo: { run: () => 1 } });
    const text = new Metrics().render(runtime, {
      serverId: 'a',
      reachable: true,
      servers: [{ id: 'a', lastSeen: 1 }],
      queueSize: 0,
      activeTasks: 0,
      functions: { echo: { queued: 0, running: 0 } },
      at: 1,
    });
    const families = [...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1], m[2]]);
    expect(families.length).toBeGreaterThan(10);
    const table = [...rows().entries()].filter(([first]) => first.startsWith('`ebbflow_'));
    for (const [name, type] of families) {
      const row = table.find(([first]) => first.split(' / ').includes(`\`${name}\``));
      expect(row, name).toBeDefined();
      expect(row?.[1][1], name).toBe(type);
    }
  });

  it('Should list every field a task body takes and every field of a record and of a function', () => {
    const table = rows();
    const fields = (schema: unknown): string[] => {
      const inner = schema as { entries?: Record<string, unknown>; pipe?: unknown[] };
      if (inner.entries) return Object.keys(inner.entries);
      for (const step of inner.pipe ?? []) {
        const entries = (step as { entries?: Record<string, unknown> }).entries;
        if (entries) return Object.keys(entries);
      }
      return [];
    };
    for (const schema of [TaskBody, TaskRecordSchema, FunctionInfoSchema]) {
      const names = fields(schema);
      expect(names.length).toBeGreaterThan(3);
      for (const name of names) expect(table.has(`\`${name}\``), name).toBe(true);
    }
  });

  it('Should link only to headings that exist', () => {
    const slug = (heading: string) =>
      heading
        .toLowerCase()
        .replace(/[^\w\s-]/g, '')
        .trim()
        .replace(/\s/g, '-');
    const anchors = new Set(
      lines.filter((l) => /^#{1,6} /.test(l)).map((l) => slug(l.replace(/^#+ /, ''))),
    );
    const links = [...doc.matchAll(/\]\(#([^)]+)\)/g)].map((m) => m[1] as string);
    expect(links.length).toBeGreaterThan(1);
    expect(links.filter((link) => !anchors.has(link))).toEqual([]);
  });

  it('Should show the listening line the server prints for ./functions', () => {
    const example = /`(ebbflow listening on [^`]+)`/.exec(doc)?.[1] as string;
    const modules = readdirSync(join(ROOT, 'functions'))
      .filter((file) => /\.(ts|js|mjs)$/.test(file))
      .map((file) => file.replace(/\.(ts|js|mjs)$/, ''))
      .sort();
    const version = /\(Node ([\d.]+)\)/.exec(example)?.[1] as string;
    expect(example).toBe(
      listeningLine(
        'http://127.0.0.1:8787',
        `Node ${version}`,
        modules.map((name) => ({ name, status: 'ready' })),
        './functions',
      ),
    );
  });
});
