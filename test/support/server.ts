/**
 * Starts a real ebbflow server as a child process, the way a user starts one on each runtime,
 * on 127.0.0.1 with PORT=0, and reads the address it prints. Settings go through the
 * environment, which every host reads the same way.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const bin = (name: string) => join(ROOT, 'node_modules', '.bin', name);

export type RuntimeName = 'node' | 'deno' | 'bun';

export interface ServerRuntime {
  name: RuntimeName;
  /** The start command, as the README gives it for this runtime. */
  command: string[];
  /** Why this runtime cannot be tested on this checkout, or undefined when it can. */
  missing: string | undefined;
}

const entry = (file: string, runtime: string) =>
  existsSync(join(ROOT, file))
    ? undefined
    : `${file} is not on this branch yet, so ${runtime} has no server entry`;

/**
 * Deno and Bun use their start commands. Node runs its entry as `node --import tsx`: the tsx CLI
 * (what `npm start` runs) relays a signal to the server and SIGKILLs it when the server has not
 * acknowledged within 30 ms, which a loaded machine can miss, and a killed server drains nothing
 * (see docs/reliability.md).
 */
const ALL_RUNTIMES: readonly ServerRuntime[] = [
  {
    name: 'node',
    command: [process.execPath, '--import', 'tsx', 'api/serve/node.ts'],
    missing: undefined,
  },
  {
    name: 'deno',
    command: [bin('deno'), 'task', 'start'],
    missing: entry('api/serve/deno.ts', 'Deno'),
  },
  { name: 'bun', command: [bin('bun'), 'run', 'start'], missing: entry('api/serve/bun.ts', 'Bun') },
];

/** `EBBFLOW_TEST_RUNTIMES=node,bun` limits the runs to those runtimes (all by default). */
const selected = process.env.EBBFLOW_TEST_RUNTIMES?.split(',').map((name) => name.trim());

export const RUNTIMES: readonly ServerRuntime[] = ALL_RUNTIMES.map((runtime) =>
  selected === undefined || selected.includes(runtime.name)
    ? runtime
    : { ...runtime, missing: runtime.missing ?? 'not selected by EBBFLOW_TEST_RUNTIMES' },
);

export interface Server {
  runtime: RuntimeName;
  child: ChildProcess;
  url: string;
  /** Everything printed on stdout and stderr so far. */
  output(): string;
  /** Resolves with the exit code (null when killed by a signal). */
  exited: Promise<number | null>;
  /** SIGTERM, then SIGKILL if it has not exited after `graceMs`; resolves with the exit code. */
  stop(graceMs?: number): Promise<number | null>;
}

export const startServer = async (
  runtime: ServerRuntime,
  env: Record<string, string>,
  startMs = 90_000,
): Promise<Server> => {
  const [command, ...args] = runtime.command as [string, ...string[]];
  const child = spawn(command, args, {
    cwd: ROOT,
    env: {
      ...process.env,
      PORT: '0',
      HOST: '127.0.0.1',
      NO_COLOR: '1',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const append = (chunk: Buffer) => {
    output += chunk.toString();
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  const exited = new Promise<number | null>((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    child.once('exit', (code) => resolve(code));
  });
  let gone = false;
  void exited.then(() => {
    gone = true;
  });
  await until(() => /listening on \S+/.test(output) || gone, startMs);
  const match = /ebbflow listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
  if (!match) {
    child.kill('SIGKILL');
    throw new Error(`the ${runtime.name} server did not start:\n${output}`);
  }
  const stop = async (graceMs = 30_000) => {
    if (!gone) child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    const code = await exited;
    clearTimeout(timer);
    return code;
  };
  return {
    runtime: runtime.name,
    child,
    url: match[1] as string,
    output: () => output,
    exited,
    stop,
  };
};

/** Poll `check` until it is true or `ms` passed (a loaded machine can be slow). */
export const until = async (check: () => boolean | Promise<boolean>, ms = 30_000) => {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
};

// biome-ignore lint/suspicious/noExplicitAny: JSON answers are read field by field.
export type Json = any;

/** A small client for one server: JSON in, status + JSON out. */
export const client = (base: string, headers: Record<string, string> = {}) => {
  const request = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
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
  return {
    request,
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
