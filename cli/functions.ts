/**
 * `ebbflow deploy`, `rm`, `ls`, `versions` and `rollback`: functions by name on a running
 * server.
 * @module
 */
import { readFile } from 'node:fs/promises';
import { basename, extname } from 'node:path';
import { defineCommand } from 'citty';
import { typeCheck } from './check.ts';
import { compileModule } from './compile.ts';
import { CliFailure, CONNECTION_ARGS, call, connection, EXIT, type Json } from './http.ts';
import { print, table } from './output.ts';

const CONTENT_TYPE: Record<string, string> = {
  '.ts': 'application/typescript',
  '.mts': 'application/typescript',
  '.js': 'application/javascript',
  '.mjs': 'application/javascript',
};

/** Deploys and deletes need the admin token: EBBFLOW_ADMIN_TOKEN is tried before EBBFLOW_TOKEN. */
const ADMIN = ['EBBFLOW_ADMIN_TOKEN'] as const;

/** The token flag of commands that change functions (the admin token). */
const ADMIN_TOKEN_ARG = {
  token: {
    type: 'string',
    description: 'admin token (default: EBBFLOW_ADMIN_TOKEN, else EBBFLOW_TOKEN)',
  },
} as const;

/** A server's answer said nothing changed: that version serves already. */
const unchanged = (headers: Headers | undefined): boolean =>
  headers?.get('Ebbflow-Unchanged') === 'true';

export const deploy = defineCommand({
  meta: { name: 'deploy', description: 'deploy a function module (a new version if it exists)' },
  args: {
    file: { type: 'positional', required: true, description: 'the module: .ts, .mts, .js or .mjs' },
    name: { type: 'string', description: 'the function’s name (default: the file name)' },
    check: {
      type: 'boolean',
      description:
        'type-check the module with the project’s TypeScript (tsc) first; without it, types are stripped, never checked',
    },
    ...CONNECTION_ARGS,
    ...ADMIN_TOKEN_ARG,
  },
  async run({ args }) {
    const ext = extname(args.file);
    const contentType = CONTENT_TYPE[ext];
    if (!contentType) {
      throw new CliFailure(
        `${args.file}: a function module ends in ${Object.keys(CONTENT_TYPE).join(', ')}`,
        EXIT.usage,
      );
    }
    const name = args.name ?? basename(args.file, ext);
    if (args.check) await typeCheck(args.file);
    let source: string;
    try {
      source = await readFile(args.file, 'utf8');
    } catch (error) {
      throw new CliFailure(`cannot read ${args.file}: ${(error as Error).message}`, EXIT.usage);
    }
    const conn = connection(args, process.env, ADMIN);
    const put = (body: string, type: string) =>
      call(conn, `/functions/${encodeURIComponent(name)}`, {
        method: 'PUT',
        body,
        contentType: type,
        what: `deploy ${name}`,
        admin: true,
      });
    let sent = source;
    let answer: Awaited<ReturnType<typeof put>>;
    try {
      answer = await put(source, contentType);
    } catch (error) {
      // A server that runs JavaScript only, or a module whose relative imports the server does
      // not have (a deployed module is one file at the edge): bundle here and send that.
      const typescript = contentType === 'application/typescript';
      const code = error instanceof CliFailure ? error.code : undefined;
      const bundle =
        (code === 'javascript_required' && typescript) ||
        (code === 'invalid_function' && RELATIVE_IMPORT.test(source));
      if (!bundle) throw error;
      sent = await compileModule(args.file);
      answer = await put(sent, 'application/javascript');
    }
    const { status, body, headers } = answer;
    print(args.json, body, () => {
      const sha = String(body.sha256).slice(0, 12);
      if (unchanged(headers)) {
        return `unchanged ${body.name} version ${body.version} (sha256 ${sha}): that source serves already`;
      }
      const verb = status === 201 ? 'deployed' : 'updated';
      const compiled = sent === source ? '' : ', compiled to JavaScript';
      return `${verb} ${body.name} version ${body.version} (sha256 ${sha}, ${Buffer.byteLength(sent)} bytes${compiled})`;
    });
  },
});

/** An import of another file beside the module (`./twice.ts`, `../lib/x.js`). */
const RELATIVE_IMPORT = /(?:from|import)\s*\(?\s*['"]\.\.?\//;

export const versions = defineCommand({
  meta: { name: 'versions', description: 'the kept versions of a function (rollback targets)' },
  args: {
    name: { type: 'positional', required: true, description: 'the function' },
    ...CONNECTION_ARGS,
  },
  async run({ args }) {
    const { body } = await call(
      connection(args, process.env),
      `/functions/${encodeURIComponent(args.name)}/versions`,
      { what: `versions ${args.name}` },
    );
    print(args.json, body, () =>
      table(
        ['VERSION', 'SERVING', 'DEPLOYED', 'BYTES', 'SHA256'],
        (body.versions as Json[]).map((v) => [
          v.version,
          v.serving ? 'yes' : '',
          new Date(v.deployedAt).toISOString(),
          v.bytes,
          String(v.sha256).slice(0, 12),
        ]),
        '(no versions kept)',
      ),
    );
  },
});

export const rollback = defineCommand({
  meta: {
    name: 'rollback',
    description: 'serve a kept version again (default: the one before the version serving)',
  },
  args: {
    name: { type: 'positional', required: true, description: 'the function' },
    version: {
      type: 'positional',
      required: false,
      description: 'the version to serve (see `ebbflow versions <name>`)',
    },
    ...CONNECTION_ARGS,
    ...ADMIN_TOKEN_ARG,
  },
  async run({ args }) {
    let version: number | undefined;
    if (args.version !== undefined) {
      version = Number(args.version);
      if (!Number.isSafeInteger(version) || version < 1) {
        throw new CliFailure(
          `the version must be a positive integer, got ${args.version}`,
          EXIT.usage,
        );
      }
    }
    const { body, headers } = await call(
      connection(args, process.env, ADMIN),
      `/functions/${encodeURIComponent(args.name)}/rollback`,
      {
        method: 'POST',
        body: JSON.stringify(version === undefined ? {} : { version }),
        contentType: 'application/json',
        what: `rollback ${args.name}`,
        admin: true,
      },
    );
    print(args.json, body, () =>
      unchanged(headers)
        ? `unchanged ${body.name}: version ${body.version} serves already`
        : `rolled back ${body.name} to version ${body.version} (sha256 ${String(body.sha256).slice(0, 12)})`,
    );
  },
});

export const rm = defineCommand({
  meta: { name: 'rm', description: 'delete a function (accepted tasks still finish)' },
  args: {
    name: { type: 'positional', required: true, description: 'the function' },
    ...CONNECTION_ARGS,
    ...ADMIN_TOKEN_ARG,
  },
  async run({ args }) {
    const conn = connection(args, process.env, ADMIN);
    const { body } = await call(conn, `/functions/${encodeURIComponent(args.name)}`, {
      method: 'DELETE',
      what: `rm ${args.name}`,
      admin: true,
    });
    print(args.json, body, () => `deleted ${body.name} (it was version ${body.version})`);
  },
});

export const ls = defineCommand({
  meta: { name: 'ls', description: 'list the functions, their versions and load' },
  args: { ...CONNECTION_ARGS },
  async run({ args }) {
    const { body } = await call(connection(args, process.env), '/functions', { what: 'ls' });
    print(args.json, body, () =>
      table(
        ['NAME', 'STATUS', 'VERSION', 'WORKERS', 'QUEUED', 'RUNNING', 'NOTE'],
        (body.functions as Json[]).map((f) => [
          f.name,
          f.status,
          f.version ?? '',
          f.activeWorkers,
          f.queueSize,
          f.activeTasks,
          f.lastError ?? f.error ?? '',
        ]),
      ),
    );
  },
});
