/**
 * The OpenAPI 3.1 document of the HTTP API, generated from the route table (`routes/index.ts`):
 * each route's method and path, its parameter rules, the query and body schemas that check its
 * requests, and its replies, turned into JSON Schema by `@valibot/to-json-schema`.
 * @module
 */
import { toJsonSchema } from '@valibot/to-json-schema';
import * as v from 'valibot';
import type { Method, Route, Schema } from './route.ts';

/** What a route of method `all` is listed under. */
const METHODS: readonly Method[] = ['get', 'post', 'put', 'patch', 'delete'];

/** `/fn/:name/*` → `/fn/{name}/{path}`. */
export const openApiPath = (path: string): string =>
  path.replace(/:([A-Za-z]+)/g, '{$1}').replace(/\*$/, '{path}');

const jsonSchema = (schema: Schema): Record<string, unknown> => {
  const { $schema: _, ...rest } = toJsonSchema(schema, {
    target: 'draft-2020-12',
    errorMode: 'ignore',
  }) as Record<string, unknown>;
  return rest;
};

/** One method of one route, as an OpenAPI operation. */
const operation = (path: string, method: Method, route: Route): Record<string, unknown> => {
  const parameters: unknown[] = [];
  for (const [name, param] of Object.entries(route.params ?? {})) {
    const schema = jsonSchema(v.pipe(v.string(), v.regex(param.pattern)));
    parameters.push({ name, in: 'path', required: true, schema, example: param.example });
  }
  if (path.endsWith('*')) {
    parameters.push({
      name: 'path',
      in: 'path',
      required: true,
      description: 'The rest of the path, passed on to the function.',
      schema: { type: 'string' },
      example: 'notes',
    });
  }
  for (const [name, header] of Object.entries(route.headers ?? {})) {
    parameters.push({
      name,
      in: 'header',
      required: false,
      description: header.description,
      schema: jsonSchema(v.pipe(v.string(), v.regex(header.pattern))),
    });
  }
  for (const [name, schema] of Object.entries(route.query?.entries ?? {})) {
    const inner = (schema as v.OptionalSchema<Schema, undefined>).wrapped ?? schema;
    const parameter: Record<string, unknown> = {
      name,
      in: 'query',
      required: false,
      schema: jsonSchema(inner),
    };
    const example = route.queryExample?.[name];
    if (example !== undefined) parameter.example = example;
    parameters.push(parameter);
  }
  const responses: Record<string, unknown> = {};
  for (const [status, reply] of Object.entries(route.responses)) {
    const content: Record<string, unknown> = {};
    const example = reply.example === undefined ? {} : { example: reply.example };
    if (reply.schema)
      content['application/json'] = { schema: jsonSchema(reply.schema), ...example };
    if (reply.media) content[reply.media] = reply.schema ? {} : example;
    responses[status] = Object.keys(content).length
      ? { description: reply.description, content }
      : { description: reply.description };
  }
  const out: Record<string, unknown> = {
    operationId: `${method}${openApiPath(path)
      .replace(/[{}]/g, '')
      .replace(/[^A-Za-z0-9]+(.)?/g, (_, c: string | undefined) => (c ? c.toUpperCase() : ''))}`,
    summary: route.summary,
    tags: [route.tag],
    responses,
  };
  if (route.description) out.description = route.description;
  if (parameters.length > 0) out.parameters = parameters;
  if (route.body) {
    const { schema, media, description, example } = route.body;
    out.requestBody = {
      required: false,
      description,
      content: {
        [media]: {
          ...(schema ? { schema: jsonSchema(schema) } : {}),
          ...(example === undefined ? {} : { example }),
        },
      },
    };
  }
  if (route.public) out.security = [];
  return out;
};

/**
 * `method /openapi/{path}` for every route `app` answers: its method routes, and every method of
 * a path that has only an `all` route (the /fn handlers). Middleware and the 405 fallbacks (an
 * `all` beside method routes) are left out.
 */
export const servedRoutes = (app: { routes: { method: string; path: string }[] }): Set<string> => {
  const specific = new Set<string>();
  const any = new Set<string>();
  for (const route of app.routes) {
    if (route.path === '/*' || route.path === '*') continue;
    if (route.method === 'ALL') any.add(route.path);
    else specific.add(`${route.method.toLowerCase()} ${openApiPath(route.path)}`);
  }
  const paths = new Set([...specific].map((r) => r.slice(r.indexOf(' ') + 1)));
  for (const path of any) {
    const open = openApiPath(path);
    if (!paths.has(open)) for (const method of METHODS) specific.add(`${method} ${open}`);
  }
  return specific;
};

/** The document of `routes`, in their order (hidden ones, a page's own files, left out). */
export const openApiDocument = (
  version: string,
  routes: readonly Route[],
): Record<string, unknown> => {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    if (route.hidden) continue;
    const path = openApiPath(route.path);
    const item = paths[path] ?? {};
    paths[path] = item;
    for (const method of route.method === 'all' ? METHODS : [route.method]) {
      item[method] = operation(route.path, method, route);
    }
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'ebbflow',
      version,
      description:
        'A serverless-style function runtime: functions in auto-scaled workers behind one HTTP API. Errors are `{"error": {"code", "message"}}`.',
    },
    components: {
      securitySchemes: {
        bearer: {
          type: 'http',
          scheme: 'bearer',
          description: 'Needed when the server has EBBFLOW_TOKEN set.',
        },
      },
    },
    security: [{ bearer: [] }],
    paths,
  };
};
