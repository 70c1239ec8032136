/**
 * Starts a real ebbflow server as a child process by the command the README gives for its
 * runtime (`npm start`, `deno task start`, `bun run start`), on 127.0.0.1 with PORT=0, and reads
 * the address it prints. Settings go through the environment, which every host reads the same
 * way; flags, where a test needs them, follow the command.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { until } from './wait.ts';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const bin = (name: string) => join(ROOT, 'node_modules', '.bin', name);

export type RuntimeName = 'node' | 'deno' | 'bun' | 'workers';

export interface ServerRuntime {
  name: RuntimeName;
  /** The start command as the README gives it. */
  readme: string;
  /** That command as spawned; flags given to `launch` are appended. */
  command: readonly string[];
  /** Why this runtime is not tested in this run, or undefined when it is. */
  missing: string | undefined;
  /** Variables each launch gets before the test's own (a fresh state folder), and their cleanup. */
  freshEnv?: () => { env: Record<string, string>; dispose: () => void };
  /** Checks of the shared suites that cannot hold here, by test title, each with its reason. */
  unsupported?: Readonly<Record<string, string>>;
}

/**
 * `npm start` runs `exec node server/start.mjs`: the shell gives way to the server's launcher,
 * and npm relays a signal to it (unlike the tsx CLI it used to run, which SIGKILLed a server slow
 * to acknowledge; see docs/reliability.md). `deno task` and `bun run` relay signals too, so tests
 * signal the launcher alone: signalling its process group would signal the server twice.
 */
export const NODE: ServerRuntime = {
  name: 'node',
  readme: 'npm start',
  command: ['npm', 'start', '--'],
  missing: undefined,
};
const ALL_RUNTIMES: readonly ServerRuntime[] = [
  NODE,
  {
    name: 'deno',
    readme: 'deno task start',
    command: [bin('deno'), 'task', 'start'],
    missing: undefined,
  },
  {
    name: 'bun',
    readme: 'bun run start',
    command: [bin('bun'), 'run', 'start'],
    missing: undefined,
  },
];

/**
 * The local Cloudflare Workers runtime (wrangler + workerd) behind `npm run dev:workers`, each
 * launch with its own Durable Object state. Not in `RUNTIMES`: only the suites that name it run
 * on it (the HTTP conformance suite, test/workers.test.ts). What it cannot hold is the table in
 * docs/runtimes.md.
 */
const WORKERS_TARGET: ServerRuntime = {
  name: 'workers',
  readme: 'npm run dev:workers',
  command: ['npm', 'run', 'dev:workers', '--'],
  missing: undefined,
  freshEnv: () => {
    const state = mkdtempSync(join(tmpdir(), 'ebbflow-workers-'));
    return {
      env: { EBBFLOW_WORKERS_STATE: state },
      dispose: () => rmSync(state, { recursive: true, force: true }),
    };
  },
  unsupported: {
    'Should drain on SIGTERM: finish running work, answer 503 for new work, exit 0':
      'a Worker has no process to signal: the platform drains it, and tasks live on in the Durable Objects (npm run dev:workers exits 0 on SIGTERM without a drain)',
  },
};

/** `EBBFLOW_TEST_RUNTIMES=node,bun` limits the runs to those runtimes (all by default). */
const selected = process.env.EBBFLOW_TEST_RUNTIMES?.split(',').map((name) => name.trim());

const select = (runtime: ServerRuntime): ServerRuntime =>
  selected === undefined || selected.includes(runtime.name)
    ? runtime
    : { ...runtime, missing: 'not selected by EBBFLOW_TEST_RUNTIMES' };

export const RUNTIMES: readonly ServerRuntime[] = ALL_RUNTIMES.map(select);

export const WORKERS: ServerRuntime = select(WORKERS_TARGET);

/** The runtimes of `RUNTIMES` plus the Workers target, for suites of the HTTP contract. */
export const CONTRACT_TARGETS: readonly ServerRuntime[] = [...RUNTIMES, WORKERS];

/** A describe block per runtime, `what on <runtime>`, skipped (saying why) where it is missing. */
export const describeEachRuntime = (
  what: string | ((runtime: ServerRuntime) => string),
  body: (runtime: ServerRuntime) => void,
  runtimes: readonly ServerRuntime[] = RUNTIMES,
) => {
  for (const runtime of runtimes) {
    const title = typeof what === 'string' ? what : what(runtime);
    const skipped = runtime.missing ? ` (skipped: ${runtime.missing})` : '';
    describe.skipIf(runtime.missing !== undefined)(`${title} on ${runtime.name}${skipped}`, () =>
      body(runtime),
    );
  }
};

/** `describeEachRuntime` over the contract's targets: the three hosts and the Workers build. */
export const describeEachTarget = (
  what: string | ((runtime: ServerRuntime) => string),
  body: (runtime: ServerRuntime) => void,
) => describeEachRuntime(what, body, CONTRACT_TARGETS);

/** `it`, skipped with its reason where the runtime lists the check as unsupported. */
export const checkOn =
  (runtime: ServerRuntime) =>
  (title: string, test: () => Promise<void>, timeout?: number): void => {
    const reason = runtime.unsupported?.[title];
    if (reason) it.skip(`${title} (skipped on ${runtime.name}: ${reason})`, test);
    else it(title, test, timeout);
  };

export interface Launch {
  /** The launcher (npm, deno task or bun run), leading its own process group. */
  child: ChildProcess;
  /** Everything printed on stdout and stderr so far. */
  output(): string;
  /** What was printed on stderr so far. */
  stderr(): string;
  /** Resolves with the exit code (null when killed by a signal) once its output is read. */
  exited: Promise<number | null>;
  /** SIGKILL for the launcher and everything it started. */
  kill(): void;
}

/** Runs the start command of `runtime` with `env` and `args`, without waiting for anything. */
export const launch = (
  runtime: ServerRuntime,
  env: Record<string, string>,
  args: readonly string[] = [],
): Launch => {
  const [command, ...rest] = runtime.command as [string, ...string[]];
  const fresh = runtime.freshEnv?.() ?? freshTaskFile(runtime, env);
  const child = spawn(command, [...rest, ...args], {
    cwd: ROOT,
    env: {
      ...process.env,
      PORT: '0',
      HOST: '127.0.0.1',
      NO_COLOR: '1',
      ...fresh?.env,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group, so a kill reaches the server behind the launcher too.
    detached: true,
  });
  let output = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
    stderr += chunk.toString();
  });
  // 'close' rather than 'exit', so everything printed has been read by then.
  const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
  // The launcher ends after the server it started: what the launch was given goes then.
  if (fresh) void exited.then(fresh.dispose);
  const kill = () => {
    try {
      process.kill(-(child.pid as number), 'SIGKILL');
    } catch {
      // The group is gone already (or never started).
      child.kill('SIGKILL');
    }
  };
  return { child, output: () => output, stderr: () => stderr, exited, kill };
};

/**
 * A server alone keeps its tasks in ./.ebbflow/tasks.db by default: each launch gets a file of
 * its own in a temporary folder instead (never one in the repository, and never one another
 * test's server holds), unless the test names the store or the file itself.
 */
const freshTaskFile = (
  runtime: ServerRuntime,
  env: Record<string, string>,
): { env: Record<string, string>; dispose: () => void } | undefined => {
  if (runtime.name === 'workers' || env.EBBFLOW_DATA !== undefined || env.EBBFLOW_STORE) {
    return undefined;
  }
  const folder = mkdtempSync(join(tmpdir(), 'ebbflow-data-'));
  return {
    env: { EBBFLOW_DATA: join(folder, 'tasks.db') },
    dispose: () => rmSync(folder, { recursive: true, force: true }),
  };
};

export interface Server extends Launch {
  runtime: RuntimeName;
  url: string;
  /** SIGTERM, then SIGKILL if it has not exited after `graceMs`; resolves with the exit code. */
  stop(graceMs?: number): Promise<number | null>;
}

export const startServer = async (
  runtime: ServerRuntime,
  env: Record<string, string>,
  { args = [], startMs = 90_000 }: { args?: readonly string[]; startMs?: number } = {},
): Promise<Server> => {
  const started = launch(runtime, env, args);
  let gone = false;
  void started.exited.then(() => {
    gone = true;
  });
  await until(() => /listening on \S+/.test(started.output()) || gone, startMs);
  const match = /ebbflow listening on (http:\/\/\S+:\d+)/.exec(started.output());
  if (!match) {
    started.kill();
    throw new Error(`the ${runtime.name} server did not start:\n${started.output()}`);
  }
  const stop = async (graceMs = 30_000) => {
    if (!gone) started.child.kill('SIGTERM');
    const timer = setTimeout(started.kill, graceMs);
    const code = await started.exited;
    clearTimeout(timer);
    return code;
  };
  return { ...started, runtime: runtime.name, url: match[1] as string, stop };
};

// biome-ignore lint/suspicious/noExplicitAny: JSON answers are read field by field.
export type Json = any;

/** The JSON body of a fetch answer. */
export const readJson = async (res: Response): Promise<Json> => res.json();

export type Client = ReturnType<typeof client>;

/** A small client for one server: JSON in, status + JSON out. */
export const client = (base: string, headers: Record<string, string> = {}) => {
  /** A body given as text goes as it is (`raw`); anything else as JSON. */
  const send = async (
    method: string,
    path: string,
    body: string | undefined,
    extra: Record<string, string> = {},
  ) => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { ...headers, ...extra },
      body,
    });
    const text = await res.text();
    let json: Json;
    try {
      json = text === '' ? undefined : JSON.parse(text);
    } catch {
      json = { raw: text };
    }
    return { status: res.status, headers: res.headers, body: json };
  };
  const request = (method: string, path: string, body?: unknown, extra?: Record<string, string>) =>
    send(method, path, body === undefined ? undefined : JSON.stringify(body), extra);
  return {
    request,
    raw: send,
    get: (path: string) => request('GET', path),
    post: (path: string, body?: unknown) => request('POST', path, body),
    del: (path: string) => request('DELETE', path),
    /** Long-poll a task until it is terminal (each poll holds up to 30 s). */
    settle: async (id: string, ms = 120_000): Promise<Json> => {
      const deadline = Date.now() + ms;
      for (;;) {
        const res = await request('GET', `/tasks/${id}?wait=30000`);
        if (res.status !== 200) throw new Error(`GET /tasks/${id}: ${res.status}`);
        if (TERMINAL.has(res.body.status)) return res.body;
        if (Date.now() > deadline) throw new Error(`task ${id} not terminal within ${ms} ms`);
      }
    },
  };
};

export const TERMINAL = new Set(['completed', 'failed', 'cancelled']);

/**
 * One server for the enclosing describe block, started before its tests and stopped after them
 * (checking the exit code when `exitCode` is given). Read `server` and `api` inside the tests.
 */
export const serverForSuite = (
  runtime: ServerRuntime,
  env: Record<string, string>,
  {
    headers = {},
    args = [],
    stopMs = 30_000,
    exitCode,
  }: {
    headers?: Record<string, string>;
    args?: readonly string[];
    stopMs?: number;
    exitCode?: number;
  } = {},
) => {
  const suite = {} as { server: Server; api: Client };
  beforeAll(async () => {
    suite.server = await startServer(runtime, env, { args });
    suite.api = client(suite.server.url, headers);
  }, 120_000);
  afterAll(async () => {
    const code = await suite.server?.stop(stopMs);
    if (exitCode !== undefined) expect(code).toBe(exitCode);
  }, stopMs + 30_000);
  return suite;
};

/** A server for one test: runs `test` with it and a client, then stops it whatever happened. */
export const withServer = async (
  runtime: ServerRuntime,
  env: Record<string, string>,
  test: (server: Server, api: Client) => Promise<void>,
  { args = [], stopMs = 30_000 }: { args?: readonly string[]; stopMs?: number } = {},
) => {
  const server = await startServer(runtime, env, { args });
  try {
    await test(server, client(server.url));
  } finally {
    await server.stop(stopMs);
  }
};
