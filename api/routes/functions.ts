/**
 * The functions: listing and reading them, deploying (`PUT /functions/:name` with the module's
 * source) and deleting them by name, their kept versions and a rollback to one; what changes a
 * function needs the admin token (`EBBFLOW_ADMIN_TOKEN`). Each change is logged on one line.
 * @module
 */
import type { Context, MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import * as v from 'valibot';
import type { FunctionInfo } from '../../runtime/index.ts';
import { bearerToken, missingToken, sameToken } from '../auth.ts';
import { ApiError } from '../errors.ts';
import { FUNCTION, MODULE_SOURCE, VERSIONS } from '../examples.ts';
import { E400, E404, err, FunctionInfoSchema, FunctionVersionsSchema, json } from '../responses.ts';
import { type Deps, type Route, route } from '../route.ts';
import { FunctionNameParam, RollbackBody } from '../schemas.ts';

/** Set on a deploy or rollback that changed nothing: that version serves already. */
export const UNCHANGED_HEADER = 'Ebbflow-Unchanged';

const LANGUAGE: Record<string, 'ts' | 'js'> = {
  'application/typescript': 'ts',
  'text/typescript': 'ts',
  'application/x-typescript': 'ts',
  'application/javascript': 'js',
  'text/javascript': 'js',
};

export const functionRoutes: readonly Route[] = [
  route({
    method: 'get',
    path: '/functions',
    summary: 'List the functions',
    tag: 'functions',
    responses: {
      '200': json(
        'Every function, sorted by name.',
        v.object({ functions: v.array(FunctionInfoSchema) }),
        { functions: [FUNCTION] },
      ),
    },
    handle: (c, { runtime }) => c.json({ functions: runtime.functions() }),
  }),
  route({
    method: 'get',
    path: '/functions/:name',
    summary: 'One function',
    tag: 'functions',
    params: { name: FunctionNameParam },
    responses: {
      '200': json('The function.', FunctionInfoSchema, FUNCTION),
      '400': E400,
      '404': E404,
    },
    handle: (c, { runtime }, input) => {
      const name = input.param(c, 'name');
      const info = runtime.getFunction(name);
      if (!info) throw new ApiError(404, 'unknown_function', `no function named "${name}"`);
      return c.json(info);
    },
  }),
  route({
    method: 'put',
    path: '/functions/:name',
    summary: 'Deploy a function by name',
    description:
      "The body is the module's source. Needs the admin token (EBBFLOW_ADMIN_TOKEN). A new version is loaded and checked before it takes over; a broken one is refused and the previous version keeps serving.",
    tag: 'functions',
    params: { name: FunctionNameParam },
    body: {
      media: 'application/typescript',
      description:
        'TypeScript (`application/typescript`, `text/typescript`) or JavaScript (`application/javascript`, `text/javascript`).',
      example: MODULE_SOURCE,
    },
    responses: {
      '200': json(
        'A new version replaced the old one (or, with `Ebbflow-Unchanged: true`, that source serves already: no new version).',
        FunctionInfoSchema,
        FUNCTION,
      ),
      '201': json('A new function.', FunctionInfoSchema, { ...FUNCTION, version: 1 }),
      '400': E400,
      '401': err('No or a wrong token.', 'unauthorized'),
      '403': err(
        'Deploys are off (`deploy_disabled`), or not the admin token (`forbidden`).',
        'deploy_disabled',
      ),
      '413': err('The source is larger than EBBFLOW_MAX_FUNCTION_BYTES.', 'payload_too_large'),
      '415': err('Another content type.', 'unsupported_media_type'),
      '422': err(
        "The module does not load or check (`invalid_function`, the loader's message).",
        'invalid_function',
      ),
    },
    // The app's body limit leaves deploys to this one (EBBFLOW_MAX_FUNCTION_BYTES).
    guards: (deps) => [admin(deps), sourceLimit(deps.maxFunctionBytes)],
    handle: async (c, { runtime, audit }, input) => {
      const name = input.param(c, 'name');
      const type = (c.req.header('Content-Type') ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
      const language = LANGUAGE[type];
      if (!language) {
        throw new ApiError(
          415,
          'unsupported_media_type',
          `send the module with Content-Type application/typescript (or text/typescript) for TypeScript, application/javascript (or text/javascript) for JavaScript; got ${type ? JSON.stringify(type) : 'none'}`,
        );
      }
      const source = await c.req.text();
      const { info, created, unchanged } = await runtime.deploy(name, source, language);
      audit(deployLine('deploy', info, new TextEncoder().encode(source).length, unchanged));
      if (unchanged) c.header(UNCHANGED_HEADER, 'true');
      return c.json(info, created ? 201 : 200);
    },
  }),
  route({
    method: 'get',
    path: '/functions/:name/versions',
    summary: "A function's kept versions",
    description:
      'The last versions of the function (EBBFLOW_KEEP_VERSIONS, default 10), newest first, each kept with its source for a rollback; `serving` marks the one that serves.',
    tag: 'functions',
    params: { name: FunctionNameParam },
    responses: {
      '200': json('The kept versions, newest first.', FunctionVersionsSchema, VERSIONS),
      '400': E400,
      '404': E404,
    },
    handle: async (c, { runtime }, input) => c.json(await runtime.versions(input.param(c, 'name'))),
  }),
  route({
    method: 'post',
    path: '/functions/:name/rollback',
    summary: 'Serve a kept version again',
    description:
      'Needs the admin token. Without a body, the newest kept version older than the one serving; with `{"version": n}`, that one. It is loaded and checked like a deploy, written into the functions folder, and keeps its number; tasks still queued run on it, running ones finish on the version they began on.',
    tag: 'functions',
    params: { name: FunctionNameParam },
    body: {
      schema: RollbackBody,
      media: 'application/json',
      description: 'The version to serve again; empty means the previous one.',
      example: { version: 2 },
    },
    responses: {
      '200': json(
        'The function, serving that version (`Ebbflow-Unchanged: true` when it served already).',
        FunctionInfoSchema,
        { ...FUNCTION, version: 2 },
      ),
      '400': E400,
      '401': err('No or a wrong token.', 'unauthorized'),
      '403': err(
        'Deploys are off (`deploy_disabled`), or not the admin token (`forbidden`).',
        'deploy_disabled',
      ),
      '404': err(
        'No such function (`unknown_function`), or that version is not kept (`unknown_version`).',
        'unknown_version',
      ),
      '409': err(
        'No kept version older than the one serving (`no_previous_version`).',
        'no_previous_version',
      ),
      '422': err(
        "The version no longer loads (`invalid_function`, the loader's message).",
        'invalid_function',
      ),
    },
    guards: (deps) => [admin(deps)],
    handle: async (c, { runtime, audit }, input) => {
      const name = input.param(c, 'name');
      const { version } = await input.body(c);
      const { info, unchanged } = await runtime.rollback(name, version);
      audit(deployLine('rollback', info, undefined, unchanged));
      if (unchanged) c.header(UNCHANGED_HEADER, 'true');
      return c.json(info);
    },
  }),
  route({
    method: 'delete',
    path: '/functions/:name',
    summary: 'Delete a deployed function',
    description:
      'Needs the admin token. New submissions get 404 at once; tasks already accepted finish.',
    tag: 'functions',
    params: { name: FunctionNameParam },
    responses: {
      '200': json('The function, status `deleted`.', FunctionInfoSchema, {
        ...FUNCTION,
        status: 'deleted',
      }),
      '401': err('No or a wrong token.', 'unauthorized'),
      '403': err('Deploys are off, or not the admin token.', 'deploy_disabled'),
      '404': E404,
    },
    guards: (deps) => [admin(deps)],
    handle: async (c, { runtime, audit }, input) => {
      const info = await runtime.remove(input.param(c, 'name'));
      audit(deployLine('delete', info));
      return c.json(info);
    },
  }),
];

/** Only the admin token deploys; unset, deploys are off. */
const admin =
  ({ adminToken, token }: Deps): MiddlewareHandler =>
  async (c: Context, next) => {
    if (adminToken === undefined) {
      throw new ApiError(
        403,
        'deploy_disabled',
        'deploying is turned off on this server: start it with EBBFLOW_ADMIN_TOKEN set (the token deploys and deletes need)',
      );
    }
    const given = bearerToken(c.req.header('Authorization'));
    if (given === undefined) throw missingToken('deploying');
    if (!(await sameToken(given, adminToken))) {
      // The invoke token is known but does not deploy; anything else is no token of ours.
      if (token !== undefined && (await sameToken(given, token))) {
        throw new ApiError(
          403,
          'forbidden',
          'this token may run functions but not deploy them; use the admin token',
        );
      }
      throw new ApiError(401, 'unauthorized', 'the bearer token is not valid');
    }
    await next();
  };

const sourceLimit = (maxFunctionBytes: number): MiddlewareHandler =>
  bodyLimit({
    maxSize: maxFunctionBytes,
    onError: () => {
      throw new ApiError(
        413,
        'payload_too_large',
        `the function's source is larger than ${maxFunctionBytes} bytes (EBBFLOW_MAX_FUNCTION_BYTES)`,
      );
    },
  });

const deployLine = (
  what: string,
  info: FunctionInfo,
  bytes?: number,
  unchanged?: boolean,
): string =>
  [
    `ebbflow: ${what} ${info.name}`,
    `version=${info.version ?? '-'}`,
    `sha256=${info.sha256 ?? '-'}`,
    ...(bytes === undefined ? [] : [`size=${bytes}`]),
    'token=admin',
    ...(unchanged ? ['unchanged=true'] : []),
  ].join(' ');
