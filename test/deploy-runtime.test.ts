/**
 * The function registry in-process on the Node host with real workers, over a temporary folder:
 * deploy, update, a refused update, delete with tasks queued, versions across a restart, and
 * hand edits picked up by the watcher.
 */
import { cp, mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { folderSource } from '../runtime/host/fs-source.ts';
import { nodeHost } from '../runtime/host/node.ts';
import { createRuntime, type Runtime, type TaskRecord } from '../runtime/index.ts';
import { until } from './support/wait.ts';

const FIXTURES = new URL('./fixtures/deploy/', import.meta.url);

/** A module that answers `tag`, after `ms` when given. */
const module = (tag: string) =>
  `export default async (ms = 0) => { if (ms > 0) await new Promise((r) => setTimeout(r, ms)); return ${JSON.stringify(tag)}; };\n`;

let dir: string;
let runtime: Runtime | undefined;
const logs: string[] = [];
const start = async () => {
  runtime = await createRuntime({
    source: folderSource(dir, { debounceMs: 100 }),
    host: nodeHost(),
    minWorkers: 1,
    maxWorkers: 4,
    log: (m) => logs.push(m),
  });
  return runtime;
};

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ebbflow-deploy-'));
  await cp(FIXTURES, dir, { recursive: true });
  logs.length = 0;
});
afterEach(async () => {
  await runtime?.close({ drainTimeoutMs: 5_000 });
  runtime = undefined;
  await rm(dir, { recursive: true, force: true });
});

describe('deploying by name', () => {
  it('Should deploy a new function, then a new version that takes over', async () => {
    const rt = await start();
    const created = await rt.deploy('greet', module('hello'), 'ts');
    expect(created.created).toBe(true);
    expect(created.info).toMatchObject({ name: 'greet', status: 'ready', version: 1 });
    expect(created.info.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect((await rt.call('greet', [])).result).toBe('hello');
    const updated = await rt.deploy('greet', module('hi'), 'js');
    expect(updated).toMatchObject({ created: false, info: { version: 2 } });
    const record = await rt.call('greet', []);
    expect(record).toMatchObject({ result: 'hi', version: 2 });
    // One module file per name, in the language deployed last.
    expect((await readdir(dir)).filter((f) => f.startsWith('greet'))).toEqual(['greet.js']);
  });

  it('Should refuse a broken version with the loader message and keep the old one serving', async () => {
    const rt = await start();
    const before = rt.getFunction('version');
    await expect(
      rt.deploy('version', 'export default () => {\n  return 1 +;\n};\n', 'ts'),
    ).rejects.toMatchObject({ code: 'invalid_function', message: expect.stringMatching(/line 2/) });
    await expect(rt.deploy('version', 'export const x = 1;', 'ts')).rejects.toMatchObject({
      code: 'invalid_function',
      message: expect.stringMatching(/no default export/),
    });
    expect(rt.getFunction('version')).toMatchObject({ version: before?.version, status: 'ready' });
    expect((await rt.call('version', [])).result).toBe('v1');
    expect(await readFile(join(dir, 'version.ts'), 'utf8')).toContain("'v1'");
    // Nothing staged is left behind.
    expect((await readdir(dir)).filter((f) => f.includes('.deploy.'))).toEqual([]);
  });

  it('Should run queued tasks on the new version and let running ones finish on the old', async () => {
    const rt = await start();
    // One worker at most, so tasks behind a running one wait in the queue.
    const single = (tag: string) => `export const config = { maxWorkers: 1 };\n${module(tag)}`;
    await rt.deploy('version', single('v2'), 'ts');
    const running = await rt.submit('version', [1_500]);
    await until(async () => (await rt.result(running.id))?.status === 'running', 20_000);
    const queued = [await rt.submit('version', []), await rt.submit('version', [])];
    await rt.deploy('version', single('v3'), 'ts');
    // Read once the new version has taken over: the old one takes nothing more from now on.
    const atSwap = await Promise.all(queued.map((t) => rt.result(t.id)));
    const done = await Promise.all(
      [running, ...queued].map((t) => rt.wait(t.id, 30_000) as Promise<TaskRecord>),
    );
    expect(done[0]).toMatchObject({ result: 'v2', version: 2 });
    // Each ran whole on the version its record names.
    for (const record of done) expect(record.result).toBe(`v${record.version}`);
    // What still waited at the swap ran on the new version (on a loaded machine the old
    // version's busy worker may have been handed one earlier: it then ran there, as a running task).
    queued.forEach((_, i) => {
      if (atSwap[i]?.status === 'queued') expect(done[i + 1]?.version).toBe(3);
    });
  });

  it('Should delete: new submissions fail at once, accepted tasks finish', async () => {
    const rt = await start();
    const running = await rt.submit('version', [800]);
    const queued = await rt.submit('version', []);
    const info = await rt.remove('version');
    expect(info).toMatchObject({ name: 'version', status: 'deleted', version: 1 });
    await expect(rt.submit('version', [])).rejects.toMatchObject({ code: 'unknown_function' });
    expect(rt.getFunction('version')).toBeUndefined();
    expect((await rt.wait(running.id, 30_000))?.status).toBe('completed');
    expect((await rt.wait(queued.id, 30_000))?.status).toBe('completed');
    expect(await readdir(dir)).not.toContain('version.ts');
    await expect(rt.remove('version')).rejects.toMatchObject({ code: 'unknown_function' });
    // The workers of a deleted function retire once its tasks are done.
    await until(() => rt.stats().activeWorkers === 0, 20_000);
  });

  it('Should let one of two racing deploys win whole', async () => {
    const rt = await start();
    const [a, b] = await Promise.all([
      rt.deploy('race', module('a'), 'ts'),
      rt.deploy('race', module('b'), 'js'),
    ]);
    expect([a.info.version, b.info.version]).toEqual([1, 2]);
    expect((await rt.call('race', [])).result).toBe('b');
    expect((await readdir(dir)).filter((f) => f.startsWith('race'))).toEqual(['race.js']);
  });

  it('Should keep versions across a restart and count on from them', async () => {
    let rt = await start();
    await rt.deploy('kept', module('one'), 'ts');
    await rt.deploy('kept', module('two'), 'ts');
    await rt.close();
    rt = await start();
    expect(rt.getFunction('kept')).toMatchObject({ version: 2, status: 'ready' });
    expect((await rt.call('kept', [])).result).toBe('two');
    expect((await rt.deploy('kept', module('three'), 'ts')).info.version).toBe(3);
  });
});

describe('serving what is ready first', () => {
  it('Should list every function at once, run a called one first, and load the rest after', async () => {
    for (const name of ['a', 'b', 'c', 'd', 'e', 'f']) {
      await writeFile(join(dir, `${name}.ts`), module(name));
    }
    // One at a time, so the order shows: the called function goes next.
    runtime = await createRuntime({
      source: folderSource(dir),
      host: nodeHost(),
      minWorkers: 1,
      maxWorkers: 1,
      waitForFunctions: false,
      log: () => {},
    });
    const rt = runtime;
    expect(rt.functions().map((f) => f.status)).toEqual(Array(7).fill('loading'));
    const record = await rt.call('f', []);
    expect(record).toMatchObject({ status: 'completed', result: 'f', version: 1 });
    // a was loading already; then f; e comes after b, c and d.
    expect(rt.getFunction('e')?.status).toBe('loading');
    await rt.loaded();
    expect(rt.functions().map((f) => f.status)).toEqual(Array(7).fill('ready'));
  });

  it('Should fail tasks that waited for a module that does not load', async () => {
    await writeFile(join(dir, 'broken.ts'), 'export default () => {\n  return (;\n};\n');
    const rt = await createRuntime({
      source: folderSource(dir),
      host: nodeHost(),
      minWorkers: 0,
      waitForFunctions: false,
      log: () => {},
    });
    runtime = rt;
    const record = await rt.call('broken', []);
    expect(record).toMatchObject({ status: 'failed', errorCode: 'load_failed' });
    expect(record.error).toMatch(/line 2/);
    await rt.loaded();
    expect(rt.getFunction('broken')?.status).toBe('unavailable');
  });
});

describe('hot reload', () => {
  it('Should pick up a hand edit, a save by rename, an added and a removed file', async () => {
    const rt = await start();
    await writeFile(join(dir, 'version.ts'), module('edited'));
    await until(() => rt.getFunction('version')?.version === 2, 20_000);
    expect((await rt.call('version', [])).result).toBe('edited');
    // An editor's save: a temporary file renamed over the module.
    await writeFile(join(dir, 'version.ts.tmp'), module('renamed'));
    await rename(join(dir, 'version.ts.tmp'), join(dir, 'version.ts'));
    await until(() => rt.getFunction('version')?.version === 3, 20_000);
    expect((await rt.call('version', [])).result).toBe('renamed');
    await writeFile(join(dir, 'added.js'), module('new'));
    await until(() => rt.getFunction('added')?.status === 'ready', 20_000);
    expect((await rt.call('added', [])).result).toBe('new');
    await rm(join(dir, 'added.js'));
    await until(() => rt.getFunction('added') === undefined, 20_000);
    // One line each, as deploys have.
    expect(
      logs.filter((l) => l.includes('via=folder')).map((l) => l.split(' ').slice(0, 4).join(' ')),
    ).toEqual([
      'ebbflow: reload version version=2',
      'ebbflow: reload version version=3',
      'ebbflow: add added version=1',
      'ebbflow: delete added version=1',
    ]);
  });

  it('Should keep the old version serving after a broken edit and show why', async () => {
    const rt = await start();
    await writeFile(join(dir, 'version.ts'), 'export default () => {\n  throw oops(;\n};\n');
    await until(() => rt.getFunction('version')?.lastError !== undefined, 20_000);
    expect(rt.getFunction('version')).toMatchObject({ version: 1, status: 'ready' });
    expect(rt.getFunction('version')?.lastError).toMatch(/line 2/);
    expect((await rt.call('version', [])).result).toBe('v1');
    await writeFile(join(dir, 'version.ts'), module('fixed'));
    await until(() => rt.getFunction('version')?.version === 2, 20_000);
    expect(rt.getFunction('version')?.lastError).toBeUndefined();
  });
});
