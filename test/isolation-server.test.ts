/**
 * A function never sees the server's secrets, on each host started the way users start it
 * (`npm start`, `deno task start`, `bun run start`): not in `/proc/self/environ`, `process.env`,
 * `Deno.env` or a child process; a config that names the server's own variables is refused
 * everywhere, and on Deno one that asks for the write of everything, another function's file,
 * the folder of the server's task file or every variable; a grant of its own variable or
 * subfolder still works. Lines a function prints after its task ended are labelled with its
 * name, never passing for the server's. And a server whose launcher is killed does not outlive
 * it.
 */
import { cpSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { client, describeEachRuntime, launch, ROOT, serverForSuite } from './support/server.ts';
import { until } from './support/wait.ts';

const SECRETS = {
  EBBFLOW_TOKEN: 'invoke-4c1f9a7e2b',
  EBBFLOW_ADMIN_TOKEN: 'admin-8d3e6b1c5f',
  OTHER_SECRET: 'other-2a9c7e4d1b',
};
const VISIBLE = 'visible-5e8b2d7a3c';

const folders: string[] = [];
afterAll(() => {
  for (const folder of folders) rmSync(folder, { recursive: true, force: true });
});
/** A functions folder with the server's task file beside it, in `../.ebbflow`. */
const serverFolders = (): { EBBFLOW_FUNCTIONS: string; EBBFLOW_DATA: string } => {
  const root = mkdtempSync(join(tmpdir(), 'ebbflow-isolation-'));
  folders.push(root);
  const folder = join(root, 'functions');
  cpSync(join(ROOT, 'test/fixtures/isolation'), folder, { recursive: true });
  mkdirSync(join(folder, 'scratch'));
  return { EBBFLOW_FUNCTIONS: folder, EBBFLOW_DATA: join(root, '.ebbflow', 'tasks.db') };
};

describeEachRuntime('isolation from the server', (runtime) => {
  const suite = serverForSuite(
    runtime,
    {
      ...SECRETS,
      FN_VISIBLE: VISIBLE,
      ...serverFolders(),
      EBBFLOW_MIN_WORKERS: '0',
    },
    { headers: { Authorization: `Bearer ${SECRETS.EBBFLOW_TOKEN}` }, exitCode: 0 },
  );

  it('Should keep every secret from a function that reads the environment every way', async () => {
    const { status, body } = await suite.api.post('/functions/snoop/invoke', {});
    expect(status, JSON.stringify(body)).toBe(200);
    const seen = JSON.stringify(body.result);
    for (const [name, secret] of Object.entries(SECRETS)) {
      expect(seen, `${name} reached the function`).not.toContain(secret);
    }
    expect(seen).not.toContain(VISIBLE);
    if (runtime.name === 'deno') {
      expect(body.result.environ).toBe('denied: NotCapable');
      expect(body.result.child).toBe('denied: NotCapable');
    } else {
      // The server's process started with a cleaned environment: readable, and empty of secrets.
      expect(body.result.environ).toMatch(/^seen: .*EBBFLOW_HANDED_ENV=stdin/);
      expect(body.result.child).toMatch(/^seen: /);
    }
  });

  it("Should refuse a function that asks for the server's token, on every host", async () => {
    const info = (await suite.api.get('/functions/asks-token')).body;
    expect(info.status).toBe('unavailable');
    expect(info.error).toMatch(/config\.permissions\.env names EBBFLOW_TOKEN/);
    const task = (await suite.api.post('/functions/asks-token/invoke', {})).body;
    expect(task).toMatchObject({ status: 'failed', errorCode: 'load_failed' });
    expect(JSON.stringify(task)).not.toContain(SECRETS.EBBFLOW_TOKEN);
  });

  it('Should keep granting a function its own variables and subfolder', async () => {
    const task = (await suite.api.post('/functions/scratch/invoke', { args: ['kept'] })).body;
    expect(task).toMatchObject({ status: 'completed', result: 'kept' });
    const granted = (await suite.api.post('/functions/granted/invoke', {})).body;
    if (runtime.name === 'deno') {
      // Deno grants a function only what the server holds: the refusal says how to grant it
      // (test/deno-launch.test.ts runs that command).
      expect(granted.error).toMatch(
        /asks for more than this server holds; to grant it, run: .*FN_VISIBLE/,
      );
    } else {
      expect(granted).toMatchObject({ status: 'completed', result: VISIBLE });
    }
  });

  it.runIf(runtime.name === 'deno')(
    "Should refuse on Deno a function asking for every variable, all writes, another function's file or the server's task file",
    async () => {
      const tasks = (await suite.api.get('/functions/reads-tasks')).body;
      expect(tasks).toMatchObject({ status: 'unavailable' });
      expect(tasks.error).toMatch(
        /read may not name "\.\.\/\.ebbflow": it reaches .*\/\.ebbflow, the server's state/,
      );
      const everything = (await suite.api.get('/functions/asks-everything')).body;
      expect(everything).toMatchObject({ status: 'unavailable' });
      expect(everything.error).toMatch(/config\.permissions\.env must name its variables/);
      const rewrites = (await suite.api.get('/functions/rewrites')).body;
      expect(rewrites).toMatchObject({ status: 'unavailable' });
      expect(rewrites.error).toMatch(/write may not name "snoop\.ts": it is a function module/);
    },
  );

  it('Should label lines a function prints after its task ended', async () => {
    const task = (await suite.api.post('/functions/late-log/invoke', {})).body;
    expect(task).toMatchObject({ status: 'completed', result: 'printed later' });
    const label = `[function late-log#${task.workerId}] `;
    await until(() => suite.server.output().includes(`${label}ebbflow: SIGTERM: draining`));
    const lines = suite.server.output().split('\n');
    expect(lines).toContain(`${label}ebbflow listening on http://evil.example:1 with 0 functions`);
    expect(lines).toContain(`${label}ebbflow: drained, bye`);
    expect(lines.filter((line) => line.startsWith('ebbflow listening on http://evil'))).toEqual([]);
    expect(lines).not.toContain('ebbflow: SIGTERM: draining');
  });
});

describeEachRuntime('a launcher killed with its process group', (runtime) => {
  it('Should take its server with it', async () => {
    const started = launch(runtime, {
      EBBFLOW_FUNCTIONS: join(ROOT, 'test/fixtures/conformance'),
      EBBFLOW_MIN_WORKERS: '0',
    });
    const match = () => /ebbflow listening on (http:\/\/\S+:\d+)/.exec(started.output());
    await until(() => match() !== null, 90_000);
    const api = client(match()?.[1] as string);
    expect((await api.get('/health')).status).toBe(200);
    started.kill();
    // `exited` waits for every holder of the output pipes, the server included.
    await started.exited;
    await expect(api.get('/health')).rejects.toThrow();
  }, 120_000);
});
