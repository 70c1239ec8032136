/**
 * Every documented way to start a server, from this repository: `npm start`, `npm run ebbflow --
 * serve`, `deno task start`, `bun run start`, and `ebbflow serve` on Deno. Each one prints a
 * listening line that names its runtime, and a SIGTERM sent to what the user started (the
 * launcher alone, as a process manager or `docker stop` sends it) reaches the server: it drains
 * and exits, and nothing of it is left answering; so does a server whose launcher npm's shell
 * left orphaned, as `npx` can (`npx ebbflow serve` from the packed package:
 * test/package.test.ts). On Deno, also: no `request.signal` warning from Deno.serve, and a
 * function the sandbox refuses is told to ask for the grant in its config, not to restart with a
 * flag.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launch, ROOT } from './support/server.ts';
import { until } from './support/wait.ts';

const bin = (name: string) => join(ROOT, 'node_modules', '.bin', name);

interface StartPath {
  how: string;
  command: string[];
  runtime: 'Node' | 'Deno' | 'Bun';
}

const PATHS: readonly StartPath[] = [
  { how: 'npm start', command: ['npm', 'start'], runtime: 'Node' },
  {
    how: 'npm run ebbflow -- serve',
    command: ['npm', 'run', 'ebbflow', '--', 'serve'],
    runtime: 'Node',
  },
  { how: 'deno task start', command: [bin('deno'), 'task', 'start'], runtime: 'Deno' },
  { how: 'bun run start', command: [bin('bun'), 'run', 'start'], runtime: 'Bun' },
  {
    how: 'ebbflow serve on Deno',
    command: [bin('deno'), 'run', '-A', 'cli/main.ts', 'serve'],
    runtime: 'Deno',
  },
];

const ADMIN = 'paths-admin';

/** True once no process of the group led by `pid` is left. */
const groupGone = (pid: number): boolean => {
  try {
    process.kill(-pid, 0);
    return false;
  } catch {
    return true;
  }
};

describe('each way to start a server', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ebbflow-paths-'));
    await writeFile(join(dir, 'hello.ts'), "export default (name: string) => 'hello ' + name;\n");
    // Reads a variable its config does not grant: Deno's sandbox refuses it.
    await writeFile(
      join(dir, 'peeks.ts'),
      "export default () => (globalThis as { Deno?: { env: { get(n: string): unknown } } }).Deno?.env.get('HOME') ?? 'not Deno';\n",
    );
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  for (const path of PATHS) {
    it(`Should drain and exit on a SIGTERM to \`${path.how}\` alone, and say which runtime serves`, async () => {
      const [command, ...args] = path.command as [string, ...string[]];
      const started = launch(
        { command: [command, ...args], name: 'node', readme: path.how, missing: undefined },
        { EBBFLOW_FUNCTIONS: dir, EBBFLOW_ADMIN_TOKEN: ADMIN, EBBFLOW_MIN_WORKERS: '0' },
      );
      const pid = started.child.pid as number;
      try {
        await until(() => /listening on \S+/.test(started.output()), 90_000);
        const line = started.output().match(/^ebbflow listening on .*$/m)?.[0] as string;
        expect(line).toMatch(
          new RegExp(
            `^ebbflow listening on http://127\\.0\\.0\\.1:\\d+ \\(${path.runtime} \\d+\\.\\d+\\.\\d+\\) with 2 functions: hello, peeks$`,
          ),
        );
        const url = /listening on (\S+)/.exec(line)?.[1] as string;
        const invoked = await fetch(`${url}/functions/hello/invoke`, {
          method: 'POST',
          body: '{"args":["Ada"]}',
        });
        expect(((await invoked.json()) as { result: string }).result).toBe('hello Ada');
        if (path.runtime === 'Deno') await denoChecks(url, started.stderr);
        started.child.kill('SIGTERM');
        await started.exited;
        await until(() => started.output().includes('ebbflow: drained, bye'), 60_000);
        expect(started.output()).toMatch(/ebbflow: SIGTERM: draining/);
        // One signal, passed on once: never a second that would end the drain early.
        expect(started.output()).not.toMatch(/SIGTERM again/);
        await until(() => groupGone(pid), 30_000);
        await expect(fetch(`${url}/health`)).rejects.toThrow();
      } finally {
        started.kill();
      }
    }, 180_000);
  }

  it("Should drain when npm's shell dies of a SIGTERM it does not pass on, as under npx", async () => {
    // npx runs a bin under `sh -c`; a shell with more to do after it does not exec the launcher,
    // and dies of a SIGTERM without passing it on: the launcher, orphaned, must pass one on.
    const started = launch(
      {
        command: ['sh', '-c', 'node server/start.mjs; exit 0'],
        name: 'node',
        readme: 'npx ebbflow serve',
        missing: undefined,
      },
      { EBBFLOW_FUNCTIONS: dir, EBBFLOW_MIN_WORKERS: '0', npm_command: 'exec' },
    );
    try {
      await until(() => /listening on \S+/.test(started.output()), 90_000);
      const url = /listening on (\S+)/.exec(started.output())?.[1] as string;
      expect((await fetch(`${url}/health`)).status).toBe(200);
      started.child.kill('SIGTERM');
      // 'close': the launcher and the server, which share its output, have both exited.
      await started.exited;
      const output = started.output();
      expect(output).toContain(
        'ebbflow: the npm process that started it exited: passing SIGTERM on to the server',
      );
      expect(output).toMatch(/ebbflow: SIGTERM: draining/);
      expect(output).toContain('ebbflow: drained, bye');
      expect(output).not.toMatch(/SIGTERM again/);
      await expect(fetch(`${url}/health`)).rejects.toThrow();
    } finally {
      started.kill();
    }
  }, 180_000);
});

/** What a Deno server must not print or say. */
const denoChecks = async (url: string, stderr: () => string): Promise<void> => {
  const admin = { Authorization: `Bearer ${ADMIN}` };
  // A request whose handler reads request.signal once (Hono's body limit does for a DELETE).
  const deployed = await fetch(`${url}/functions/brief`, {
    method: 'PUT',
    headers: { ...admin, 'Content-Type': 'application/typescript' },
    body: 'export default () => 1;\n',
  });
  expect(deployed.status).toBe(201);
  const removed = await fetch(`${url}/functions/brief`, { method: 'DELETE', headers: admin });
  expect(removed.status).toBe(200);
  const peeked = (await (
    await fetch(`${url}/functions/peeks/invoke`, { method: 'POST' })
  ).json()) as { status: string; error: string };
  expect(peeked.status).toBe('failed');
  expect(peeked.error).toMatch(
    /^NotCapable: Requires env access to "HOME": a function is granted it by its config, e\.g\. export const config = \{ permissions: \{ env: \["HOME"\] \} \}/,
  );
  expect(peeked.error).not.toContain('--allow-env');
  expect(stderr()).not.toMatch(/request\.signal|legacy/);
};
