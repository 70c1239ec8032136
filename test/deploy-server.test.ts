/**
 * Deploying by name over a real server on Node, Deno and Bun: a deploy, an update under load
 * (no task lost, none run on a half-loaded version), a refused update, a delete with tasks
 * queued, a restart that keeps what was deployed, and hand edits picked up by the watcher.
 * Each runtime serves its own copy of `fixtures/deploy/` in a temporary folder.
 */
import { cp, mkdir, mkdtemp, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  type Client,
  client,
  describeEachRuntime,
  type Json,
  type Server,
  startServer,
} from './support/server.ts';
import { until } from './support/wait.ts';

const FIXTURES = new URL('./fixtures/deploy/', import.meta.url);
const ADMIN = 'deploy-admin-token';

/** A module whose result names the version it expects to be: `v<tag>`, after `ms` if given. */
const module = (tag: string) =>
  `export default async (ms = 0) => {\n  if (ms > 0) await new Promise((r) => setTimeout(r, ms));\n  return ${JSON.stringify(tag)};\n};\n`;

describeEachRuntime('deploying by name', (runtime) => {
  let dir: string;
  let server: Server;
  let api: Client;
  const env = () => ({
    EBBFLOW_FUNCTIONS: dir,
    EBBFLOW_ADMIN_TOKEN: ADMIN,
    EBBFLOW_MIN_WORKERS: '1',
    EBBFLOW_MAX_WORKERS: '4',
  });
  const start = async () => {
    server = await startServer(runtime, env());
    api = client(server.url, { Authorization: `Bearer ${ADMIN}` });
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), `ebbflow-deploy-${runtime.name}-`));
    await cp(FIXTURES, dir, { recursive: true });
    await start();
  }, 120_000);
  afterAll(async () => {
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  }, 60_000);

  const deploy = async (name: string, source: string, type = 'application/typescript') => {
    const res = await fetch(`${server.url}/functions/${name}`, {
      method: 'PUT',
      body: source,
      headers: { Authorization: `Bearer ${ADMIN}`, 'Content-Type': type },
    });
    return { status: res.status, body: (await res.json()) as Json, headers: res.headers };
  };
  const invoke = async (name: string, args: unknown[] = []) =>
    (await api.post(`/functions/${name}/invoke`, { args })).body;

  it('Should deploy a new function and serve it at once', async () => {
    const res = await deploy('greet', module('hello'));
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ name: 'greet', status: 'ready', version: 1 });
    expect(res.body.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(await invoke('greet')).toMatchObject({
      status: 'completed',
      result: 'hello',
      version: 1,
    });
    expect(server.output()).toMatch(
      /deploy greet version=1 sha256=[0-9a-f]{64} size=\d+ token=admin/,
    );
  });

  it('Should update under load: every task ends completed, on a whole version', async () => {
    // The fixture serves as version 1 and answers "v1"; each deploy answers its own version.
    const ids: string[] = [];
    let submitting = true;
    const load = (async () => {
      while (submitting) {
        const batch = await Promise.all(
          Array.from({ length: 8 }, () => api.post('/functions/version/tasks', { args: [5] })),
        );
        for (const res of batch) {
          expect(res.status).toBe(202);
          ids.push(res.body.id);
        }
      }
    })();
    for (const v of [2, 3, 4]) {
      await until(() => ids.length >= v * 20, 60_000);
      const res = await deploy('version', module(`v${v}`));
      expect(res).toMatchObject({ status: 200, body: { version: v } });
    }
    await until(() => ids.length >= 100, 60_000);
    submitting = false;
    await load;
    const records = await Promise.all(ids.map((id) => api.settle(id)));
    const versions = new Set<number>();
    for (const record of records) {
      expect(record.status).toBe('completed');
      expect(['v1', 'v2', 'v3', 'v4']).toContain(record.result);
      // The code that ran is the version the record names: nothing ran on a mix, also where
      // workers import the module file as they start (Deno, Bun: each version loads its own copy).
      expect(record.result).toBe(`v${record.version}`);
      versions.add(record.version);
    }
    expect(versions.has(1) && versions.has(4)).toBe(true);
  }, 120_000);

  it('Should refuse a broken update with 422 and the line, the old version serving', async () => {
    const before = (await api.get('/functions/version')).body.version;
    const res = await deploy('version', 'export default () => {\n  return (;\n};\n');
    expect(res.status).toBe(422);
    expect(res.body.error.code).toBe('invalid_function');
    expect(res.body.error.message).toMatch(/line 2|:2:/);
    expect(res.body.error.message).not.toContain('.deploy.');
    expect((await api.get('/functions/version')).body.version).toBe(before);
    expect(await invoke('version')).toMatchObject({ status: 'completed', result: `v${before}` });
  });

  it('Should delete with tasks queued: they finish, new ones get 404', async () => {
    expect((await deploy('doomed', module('last'))).status).toBe(201);
    const ids = [];
    for (let i = 0; i < 4; i++) {
      ids.push((await api.post('/functions/doomed/tasks', { args: [300] })).body.id);
    }
    const res = await api.del('/functions/doomed');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ name: 'doomed', status: 'deleted', version: 1 });
    expect((await api.post('/functions/doomed/tasks', { args: [] })).status).toBe(404);
    for (const id of ids) expect(await api.settle(id)).toMatchObject({ status: 'completed' });
    expect((await api.get('/functions/doomed')).status).toBe(404);
  }, 60_000);

  it('Should pick up a hand edit and an editor’s save by rename', async () => {
    const before = (await api.get('/functions/greet')).body.version;
    await writeFile(join(dir, 'greet.ts'), module('edited'));
    await until(async () => (await api.get('/functions/greet')).body.version === before + 1);
    expect(await invoke('greet')).toMatchObject({ result: 'edited', version: before + 1 });
    // A broken edit: the last version serves, and the message names the file that was edited.
    await writeFile(join(dir, 'greet.ts'), 'export default () => {\n  throw oops(;\n};\n');
    await until(async () => (await api.get('/functions/greet')).body.lastError !== undefined);
    const broken = (await api.get('/functions/greet')).body;
    expect(broken).toMatchObject({ version: before + 1, status: 'ready' });
    expect(broken.lastError).toMatch(/line 2|:2:/);
    expect(broken.lastError).not.toContain('.deploy.');
    expect(await invoke('greet')).toMatchObject({ result: 'edited', version: before + 1 });
    await writeFile(join(dir, '.greet.ts.swp'), module('renamed'));
    await rename(join(dir, '.greet.ts.swp'), join(dir, 'greet.ts'));
    await until(async () => (await api.get('/functions/greet')).body.version === before + 2);
    expect(await invoke('greet')).toMatchObject({ result: 'renamed', version: before + 2 });
  }, 60_000);

  it('Should roll back to a kept version under its number, and make no version of an identical deploy', async () => {
    expect((await deploy('rolled', module('a'))).body.version).toBe(1);
    expect((await deploy('rolled', module('b'))).body.version).toBe(2);
    const same = await deploy('rolled', module('b'));
    expect(same).toMatchObject({ status: 200, body: { version: 2 } });
    expect(same.headers.get('ebbflow-unchanged')).toBe('true');
    const listed = (await api.get('/functions/rolled/versions')).body;
    expect(listed).toMatchObject({ name: 'rolled', version: 2 });
    expect(listed.versions.map((v: Json) => [v.version, v.serving, v.language])).toEqual([
      [2, true, 'ts'],
      [1, false, 'ts'],
    ]);
    // Only the admin token rolls back.
    const anonymous = await fetch(`${server.url}/functions/rolled/rollback`, { method: 'POST' });
    expect(anonymous.status).toBe(401);
    const back = await api.post('/functions/rolled/rollback');
    expect(back).toMatchObject({ status: 200, body: { name: 'rolled', version: 1 } });
    expect(await invoke('rolled')).toMatchObject({ result: 'a', version: 1 });
    expect((await api.post('/functions/rolled/rollback')).body.error.code).toBe(
      'no_previous_version',
    );
    const unknown = await api.post('/functions/rolled/rollback', { version: 9 });
    expect(unknown).toMatchObject({ status: 404, body: { error: { code: 'unknown_version' } } });
    expect((await api.post('/functions/rolled/rollback', { version: 2 })).body.version).toBe(2);
    expect((await deploy('rolled', module('c'))).body.version).toBe(3);
  }, 60_000);

  it("Should keep the user's folder free of ebbflow's copies, and run a function's relative imports from its copy", async () => {
    await mkdir(join(dir, 'lib'), { recursive: true });
    await writeFile(join(dir, 'lib/twice.ts'), 'export const twice = (n: number) => n * 2;\n');
    const calc =
      "import { twice } from './lib/twice.ts';\nexport default (n: number) => ({ n: twice(n), url: import.meta.url });\n";
    expect((await deploy('calc', calc)).status).toBe(201);
    expect(await invoke('calc', [21])).toMatchObject({
      status: 'completed',
      result: { n: 42, url: `file://${join(dir, 'calc.ts')}` },
    });
    // A hand edit makes the next version, whose copy still reaches the imported file.
    await writeFile(join(dir, 'calc.ts'), `${calc}// edited\n`);
    await until(async () => (await api.get('/functions/calc')).body.version === 2);
    expect(await invoke('calc', [1])).toMatchObject({ result: { n: 2 }, version: 2 });
    // What a person sees in the folder: their modules, and ebbflow's one hidden folder.
    const hidden = (await readdir(dir)).filter((f) => f.startsWith('.'));
    expect(hidden).toEqual(['.ebbflow']);
  }, 60_000);

  it('Should keep deployed functions and their versions across a restart', async () => {
    const before = (await api.get('/functions')).body.functions as Json[];
    expect(await server.stop()).toBe(0);
    await start();
    const after = (await api.get('/functions')).body.functions as Json[];
    const pick = (list: Json[]) =>
      list.map(({ name, version, sha256 }: Json) => ({ name, version, sha256 }));
    expect(pick(after)).toEqual(pick(before));
    expect(await invoke('greet')).toMatchObject({ status: 'completed', result: 'renamed' });
  }, 120_000);
});
