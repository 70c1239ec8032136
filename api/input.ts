/**
 * Reading a request's input by its route's own rules: path parameters by their patterns, the
 * query and the JSON body by valibot schemas, each refusal a 400 whose details name the field.
 * @module
 */
import type { Context } from 'hono';
import * as v from 'valibot';
import { messageOf } from '../runtime/index.ts';
import { ApiError, type Detail } from './errors.ts';
import type { HeaderParam, Input, PathParam, Route, Schema } from './route.ts';

/** The readers of one route's input (made once, when the app is built). */
export const inputOf = (route: Route): Input<string, unknown, unknown> => {
  const { params, query, body, headers } = route;
  return {
    param: (c, name) => checkParam(name, params?.[name] as PathParam, c.req.param(name) ?? ''),
    header: (c, name) => checkHeader(name, headers?.[name] as HeaderParam, c.req.header(name)),
    query: (c) => parse(query as Schema, c.req.query(), 'invalid_query', 'query'),
    body: async (c) => parse(body?.schema as Schema, await readJson(c), 'invalid_body'),
  };
};

/** A path parameter, or a 400 saying the rule; values outside it never reach a lookup. */
export const checkParam = (name: string, param: PathParam, value: string): string => {
  if (param.pattern.test(value)) return value;
  throw new ApiError(400, param.code, param.rule, {
    details: [{ field: name, message: `got ${JSON.stringify(value.slice(0, param.echo))}` }],
  });
};

/** An optional header, or a 400 saying the rule (a value is never repeated: it may be a secret). */
export const checkHeader = (
  name: string,
  header: HeaderParam,
  value: string | undefined,
): string | undefined => {
  if (value === undefined || header.pattern.test(value)) return value;
  throw new ApiError(400, 'invalid_argument', `${name}: ${header.rule}`, {
    details: [{ field: name, message: header.rule }],
  });
};

/** Parse `input` or throw a 400 whose details name each bad field. */
export const parse = <S extends Schema>(
  schema: S,
  input: unknown,
  code: 'invalid_body' | 'invalid_query',
  root = 'body',
): v.InferOutput<S> => {
  const result = v.safeParse(schema, input);
  if (result.success) return result.output;
  const details: Detail[] = result.issues.map((issue) => ({
    field: v.getDotPath(issue) ?? root,
    message: issue.message,
  }));
  const first = details[0] as Detail;
  const message = first.message.includes(first.field)
    ? first.message
    : `${first.field}: ${first.message}`;
  throw new ApiError(400, code, message, { details });
};

/** An empty body means `{}`; anything else must be JSON. */
const readJson = async (c: Context): Promise<unknown> => {
  const text = await c.req.text();
  if (text.trim() === '') return {};
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ApiError(400, 'invalid_json', `the body is not valid JSON: ${messageOf(error)}`);
  }
};
