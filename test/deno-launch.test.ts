/**
 * `deno task start` derives the server's grants from its settings: a functions folder outside the
 * project and another loopback address work, the server holds only those grants, a function that
 * asks for more is refused with the exact command that grants it (and that command works), and
 * signals reach the server once, whether sent to `deno task` alone or to its whole group.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { client, ROOT, RUNTIMES, type Server, startServer } from './support/server.ts';
import { until } from './support/wait.ts';

const deno = RUNTIMES.find((r) => r.name === 'deno');
const folder = mkdtempSync(join(tmpdir(), 'ebbflow-deno-fns-'));
for (const [from, name] of [
  ['conformance/echo.ts', 'echo.ts'],
  ['hosts/granted.ts', 'granted.ts'],
  ['conformance/nap.ts', 'nap.ts'],
] as const) {
  copyFileSync(join(ROOT, 'test/fixtures', from), join(folder, name));
}
/** Where the servers keep their tasks (their SQLite file): granted to the server alone. */
const data = mkdtempSync(join(tmpdir(), 'ebbflow-deno-data-'));
afterAll(() => {
  rmSync(folder, { recursive: true, force: true });
  rmSync(data, { recursive: true, force: true });
});

/** A loopback address other than 127.0.0.1 (never a public interface in tests). */
const ENV = {
  EBBFLOW_FUNCTIONS: folder,
  HOST: '127.0.0.2',
  EBBFLOW_MIN_WORKERS: '0',
  EBBFLOW_DATA: join(data, 'tasks.db'),
};

/** The command line of the `deno run` server that `deno task start` started. */
const serverCommandLine = (server: Server): string[] => {
  const children = (pid: number): number[] =>
    readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .split(' ')
      .filter(Boolean)
      .map(Number);
  const all = (pid: number): number[] => [pid, ...children(pid).flatMap(all)];
  for (const pid of all(server.child.pid as number)) {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    if (argv.some((arg) => arg.endsWith('server/deno.ts'))) return argv;
  }
  throw new Error('no deno.ts process under the launcher');
};

describe.skipIf(deno?.missing !== undefined)('deno task start', () => {
  it('Should serve a folder outside the project on 127.0.0.2 with only the grants it needs', async () => {
    const server = await startServer(deno!, ENV);
    try {
      expect(server.url).toMatch(/^http:\/\/127\.0\.0\.2:\d+$/);
      const api = client(server.url);
      expect((await api.post('/functions/echo/invoke', { args: ['outside'] })).body).toMatchObject({
        status: 'completed',
        result: ['outside'],
      });
      const argv = serverCommandLine(server);
      const grant = (kind: string) => argv.find((a) => a.startsWith(`--allow-${kind}=`));
      expect(grant('read')).toBe(
        `--allow-read=${folder},${join(ROOT, 'runtime')},${join(ROOT, 'node_modules')},${join(ROOT, 'api/pages')},${data}`,
      );
      expect(grant('net')).toBe('--allow-net=127.0.0.2');
      // Write of the functions folder (deploys land there, versions are kept there) and of the
      // task file's folder.
      expect(grant('write')).toBe(`--allow-write=${folder},${data}`);
      expect(argv.filter((a) => a.startsWith('--allow-')).map((a) => a.split('=')[0])).toEqual([
        '--allow-read',
        '--allow-net',
        '--allow-env',
        '--allow-sys',
        '--allow-write',
      ]);

      // granted.ts asks for a variable the server was not given: refused, with what to run.
      const refused = (await api.post('/functions/granted/invoke', {})).body;
      expect(refused.status).toBe('failed');
      expect(refused.error).toMatch(/config\.permissions asks for more than this server holds/);
      const command = /to grant it, run: (.+)$/.exec(refused.error)?.[1];
      expect(command).toContain('EBBFLOW_GRANTED');
      // Signalled through `deno task` alone: the launcher relays it, the server drains once.
      expect(await server.stop()).toBe(0);
      expect(server.output()).not.toMatch(/SIGTERM again/);

      // The command it printed grants the function what it asked for.
      const [bin, ...args] = (command as string).split(' ') as [string, ...string[]];
      const granted = spawn(bin, args, {
        cwd: tmpdir(),
        env: { ...process.env, ...ENV, PORT: '0', EBBFLOW_GRANTED: 'granted-value' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      granted.stdout.on('data', (chunk: Buffer) => (output += chunk));
      granted.stderr.on('data', (chunk: Buffer) => (output += chunk));
      const exited = new Promise((resolve) => granted.once('close', resolve));
      try {
        await until(() => /listening on \S+/.test(output), 60_000);
        const url = /listening on (\S+)/.exec(output)?.[1] as string;
        expect((await client(url).post('/functions/granted/invoke', {})).body).toMatchObject({
          status: 'completed',
          result: 'granted-value',
        });
      } finally {
        granted.kill('SIGTERM');
        expect(await exited).toBe(0);
      }
    } finally {
      await server.stop(5_000);
    }
  }, 150_000);

  it('Should drain once on a signal sent to the whole process group (as Ctrl-C is)', async () => {
    const server = await startServer(deno!, ENV);
    try {
      // A task that outlasts the launcher's relay delay keeps the drain open long enough to see
      // a relayed second signal, were there one.
      const api = client(server.url);
      const nap = (await api.post('/functions/nap/tasks', { args: [3_000] })).body.id;
      await until(async () => (await api.get(`/tasks/${nap}`)).body.status === 'running');
      process.kill(-(server.child.pid as number), 'SIGTERM');
      expect((await api.get(`/tasks/${nap}?wait=30000`)).body.status).toBe('completed');
      expect(await server.exited).toBe(0);
      expect(server.output()).toMatch(/SIGTERM: draining/);
      expect(server.output()).not.toMatch(/SIGTERM again/);
    } finally {
      await server.stop(5_000);
    }
  }, 120_000);

  it('Should refuse a bad setting before starting anything, naming it', async () => {
    const server = startServer(deno!, { ...ENV, PORT: 'eighty' });
    await expect(server).rejects.toThrow(/ebbflow: PORT must be an integer from 0 to 65535/);
  }, 60_000);
});
