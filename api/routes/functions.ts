/**
 * Deploying functions by name: `PUT /functions/:name` with the module's source and
 * `DELETE /functions/:name`, both behind the admin token (`EBBFLOW_ADMIN_TOKEN`). Each deploy and
 * delete is logged on one line.
 * @module
 */
import type { Context, Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { FunctionInfo, Runtime } from '../../runtime/index.ts';
import { bearerToken, missingToken, sameToken } from '../auth.ts';
import { ApiError } from '../errors.ts';
import { functionName } from '../schemas.ts';

export interface FunctionRoutesOptions {
  runtime: Runtime;
  /** Unset turns deploys off (403 `deploy_disabled`). */
  adminToken?: string;
  /** The invoke token, which is refused here with 403 `forbidden`. */
  token?: string;
  /** Sources above this get 413. @default 1048576 */
  maxFunctionBytes?: number;
  log: (message: string) => void;
}

const LANGUAGE: Record<string, 'ts' | 'js'> = {
  'application/typescript': 'ts',
  'text/typescript': 'ts',
  'application/x-typescript': 'ts',
  'application/javascript': 'js',
  'text/javascript': 'js',
};

export const functionRoutes = (app: Hono, options: FunctionRoutesOptions): void => {
  const { runtime, adminToken, token, maxFunctionBytes = 1_048_576, log } = options;

  const admin = async (c: Context, next: () => Promise<void>) => {
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

  const tooLarge = () => {
    throw new ApiError(
      413,
      'payload_too_large',
      `the function's source is larger than ${maxFunctionBytes} bytes (EBBFLOW_MAX_FUNCTION_BYTES)`,
    );
  };

  app.put(
    '/functions/:name',
    admin,
    bodyLimit({ maxSize: maxFunctionBytes, onError: tooLarge }),
    async (c) => {
      const name = functionName(c.req.param('name'));
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
      const { info, created } = await runtime.deploy(name, source, language);
      log(deployLine('deploy', info, new TextEncoder().encode(source).length));
      return c.json(info, created ? 201 : 200);
    },
  );

  app.delete('/functions/:name', admin, async (c) => {
    const info = await runtime.remove(functionName(c.req.param('name') ?? ''));
    log(deployLine('delete', info));
    return c.json(info);
  });
};

const deployLine = (what: string, info: FunctionInfo, bytes?: number): string =>
  [
    `ebbflow: ${what} ${info.name}`,
    `version=${info.version ?? '-'}`,
    `sha256=${info.sha256 ?? '-'}`,
    ...(bytes === undefined ? [] : [`size=${bytes}`]),
    'token=admin',
  ].join(' ');
