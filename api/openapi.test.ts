/**
 * Every operation of the reference comes with an example that works: path parameters that keep
 * their rules, queries and JSON bodies that their own valibot schemas take, and answers of the
 * shapes the routes declare, all put where OpenAPI (and Swagger UI's "Try it out") reads them.
 * The version is the package's; a page's own files are not operations.
 */
import * as v from 'valibot';
import { describe, expect, it } from 'vitest';
import { openApiDocument } from './openapi.ts';
import type { Route } from './route.ts';
import { ROUTES } from './routes/index.ts';
import { VERSION } from './version.ts';

const shown = ROUTES.filter((route) => !route.hidden);
const name = (route: Route) => `${route.method} ${route.path}`;

describe('the examples of the reference', () => {
  it('Should cover every route shown', () => {
    expect(shown.length).toBeGreaterThan(20);
  });

  it('Should give every path parameter an example that keeps its rule', () => {
    for (const route of shown) {
      for (const [param, rule] of Object.entries(route.params ?? {})) {
        expect(rule.pattern.test(rule.example), `${name(route)} :${param}`).toBe(true);
      }
    }
  });

  it('Should give every query an example its schema takes', () => {
    for (const route of shown.filter((r) => r.query)) {
      const example = route.queryExample;
      expect(example, name(route)).toBeDefined();
      const parsed = v.safeParse(route.query as v.GenericSchema, example);
      expect(parsed.issues, name(route)).toBeUndefined();
    }
  });

  it('Should give every body an example: JSON its schema takes, text otherwise', () => {
    for (const route of shown.filter((r) => r.body)) {
      const { schema, example } = route.body as { schema?: v.GenericSchema; example?: unknown };
      expect(example, name(route)).toBeDefined();
      if (schema) expect(v.safeParse(schema, example).issues, name(route)).toBeUndefined();
      else expect(typeof example, name(route)).toBe('string');
    }
  });

  it('Should give every answer an example of the shape it declares', () => {
    for (const route of shown) {
      for (const [status, reply] of Object.entries(route.responses)) {
        const where = `${name(route)} ${status}`;
        expect(reply.example, where).toBeDefined();
        if (reply.schema) {
          expect(v.safeParse(reply.schema, reply.example).issues, where).toBeUndefined();
        } else {
          // A JSON answer without a schema (the document itself), or text (HTML, events).
          const json = reply.media?.includes('json') === true;
          expect(typeof reply.example, where).toBe(json ? 'object' : 'string');
        }
      }
    }
  });

  it('Should never start a task with a timeout or retry that cannot work', () => {
    // Swagger UI made one up from the schema's minimum: {"timeoutMs": 1} timed every task out.
    for (const route of shown.filter((r) => r.path.startsWith('/functions/:name/'))) {
      const body = route.body?.example as Record<string, unknown> | undefined;
      expect(body?.timeoutMs, name(route)).toBeUndefined();
    }
  });
});

describe('the OpenAPI document', () => {
  const document = openApiDocument(VERSION, ROUTES) as {
    info: { version: string };
    paths: Record<string, Record<string, Record<string, unknown>>>;
  };

  it("Should carry the package's version", () => {
    expect(document.info.version).toBe(VERSION);
  });

  it("Should list the pages but not a page's own files", () => {
    const paths = Object.keys(document.paths);
    expect(paths).toEqual(expect.arrayContaining(['/', '/docs', '/openapi.json']));
    for (const asset of [
      '/dashboard/app.js',
      '/dashboard/uplot.css',
      '/docs/init.js',
      '/favicon.ico',
    ]) {
      expect(paths).not.toContain(asset);
    }
  });

  it('Should put the examples where "Try it out" reads them', () => {
    const invoke = document.paths['/functions/{name}/invoke']?.post as {
      parameters: { name: string; example: string }[];
      requestBody: { content: Record<string, { example: unknown }> };
      responses: Record<string, { content: Record<string, { example: unknown }> }>;
    };
    expect(invoke.parameters).toContainEqual(
      expect.objectContaining({ name: 'name', example: 'fib' }),
    );
    expect(invoke.requestBody.content['application/json']?.example).toEqual({ args: [20] });
    expect(invoke.responses['200']?.content['application/json']?.example).toMatchObject({
      status: 'completed',
    });
    const list = document.paths['/tasks']?.get as {
      parameters: { name: string; example?: string }[];
    };
    expect(list.parameters.find((p) => p.name === 'status')?.example).toBe('failed');
  });
});
