/**
 * `ebbflow deploy`, `ebbflow rm` and `ebbflow ls`: functions by name on a running server.
 * @module
 */
import { readFile } from 'node:fs/promises';
import { basename, extname } from 'node:path';
import { defineCommand } from 'citty';
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

export const deploy = defineCommand({
  meta: { name: 'deploy', description: 'deploy a function module (a new version if it exists)' },
  args: {
    file: { type: 'positional', required: true, description: 'the module: .ts, .mts, .js or .mjs' },
    name: { type: 'string', description: 'the function’s name (default: the file name)' },
    ...CONNECTION_ARGS,
    token: {
      type: 'string',
      description: 'admin token (default: EBBFLOW_ADMIN_TOKEN, else EBBFLOW_TOKEN)',
    },
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
    const { status, body } = answer;
    print(args.json, body, () => {
      const verb = status === 201 ? 'deployed' : 'updated';
      const compiled = sent === source ? '' : ', compiled to JavaScript';
      return `${verb} ${body.name} version ${body.version} (sha256 ${String(body.sha256).slice(0, 12)}, ${Buffer.byteLength(sent)} bytes${compiled})`;
    });
  },
});

/** An import of another file beside the module (`./twice.ts`, `../lib/x.js`). */
const RELATIVE_IMPORT = /(?:from|import)\s*\(?\s*['"]\.\.?\//;

export const rm = defineCommand({
  meta: { name: 'rm', description: 'delete a function (accepted tasks still finish)' },
  args: {
    name: { type: 'positional', required: true, description: 'the function' },
    ...CONNECTION_ARGS,
    token: {
      type: 'string',
      description: 'admin token (default: EBBFLOW_ADMIN_TOKEN, else EBBFLOW_TOKEN)',
    },
  },
  async run({ args }) {
    const conn = connection(args, process.env, ADMIN);
    const { body } = await call(conn, `/functions/${encodeURIComponent(args.name)}`, {
      method: 'DELETE',
      what: `rm ${args.name}`,
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
