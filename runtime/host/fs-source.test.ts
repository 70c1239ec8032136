import { mkdtemp, readdir, readFile, rename, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { until } from '../../test/support/wait.ts';
import { STAGED_STALE_MS } from '../worker-host.ts';
import { folderSource, STATE_DIR, STATE_FILE } from './fs-source.ts';

/** What a person sees in the folder: everything but ebbflow's own `.ebbflow/`. */
const visible = async (dir: string) => (await readdir(dir)).filter((f) => f !== STATE_DIR).sort();

describe('folderSource', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ebbflow-source-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('Should stage a copy in .ebbflow/staged, then commit the source over the other extension', async () => {
    await writeFile(join(dir, 'greet.js'), 'export default () => "old";');
    const source = folderSource(dir);
    const staged = await source.stage?.('greet', 'export default () => "new";', 'ts');
    expect(staged?.entry.url).toMatch(/\/\.ebbflow\/staged\/greet\.[0-9a-f]{8}\.ts$/);
    expect(staged?.entry.home).toBe(`file://${join(dir, 'greet.ts')}`);
    // Not listed while staged: the old module still serves.
    expect((await source.list()).entries.map((e) => e.url)).toEqual([
      `file://${join(dir, 'greet.js')}`,
    ]);
    const entry = await staged?.commit();
    expect(entry?.url).toBe(`file://${join(dir, 'greet.ts')}`);
    // Nothing of ebbflow's in the folder itself; the copy stays (its workers load it) until
    // discarded.
    expect(await visible(dir)).toEqual(['greet.ts']);
    const staging = join(dir, STATE_DIR, 'staged');
    expect(await readdir(staging)).toEqual([basename(staged?.entry.url ?? '')]);
    await staged?.discard();
    expect(await readdir(staging)).toEqual([]);
    expect(await source.read?.(entry as { name: string; url: string })).toContain('"new"');
  });

  it('Should write a copy its relative imports still reach from', async () => {
    await writeFile(join(dir, 'twice.mjs'), 'export const twice = (n) => n * 2;\n');
    const source = folderSource(dir);
    const staged = await source.stage?.(
      'calc',
      "import { twice } from './twice.mjs';\nexport default (n) => twice(n);\n",
      'js',
    );
    const copy = await import(staged?.entry.url as string);
    expect(copy.default(4)).toBe(8);
  });

  it('Should discard a staged source and remove every extension of a name', async () => {
    const source = folderSource(dir);
    const staged = await source.stage?.('x', 'syntax error here', 'js');
    await staged?.discard();
    expect(await visible(dir)).toEqual([]);
    await writeFile(join(dir, 'x.mjs'), '');
    expect(await source.remove?.('x')).toBe(true);
    expect(await source.remove?.('x')).toBe(false);
  });

  it("Should sweep what staging left behind, earlier versions' copies beside the module too, and nothing else", async () => {
    const source = folderSource(dir);
    const left = await source.stage?.('left', 'export default () => 1;', 'ts');
    await writeFile(join(dir, '.left.0123abcd.tmp'), '');
    await writeFile(join(dir, '.older.0123abcd.deploy.ts'), '');
    await writeFile(join(dir, '.hidden.ts'), '');
    await writeFile(join(dir, 'kept.ts'), '');
    // Left by a process that is gone: nobody marked them for longer than the stale time.
    const old = new Date(Date.now() - STAGED_STALE_MS - 1_000);
    for (const file of [
      fileURLToPath(left?.entry.url as string),
      join(dir, '.left.0123abcd.tmp'),
      join(dir, '.older.0123abcd.deploy.ts'),
    ]) {
      await utimes(file, old, old);
    }
    await source.sweep?.();
    expect(await visible(dir)).toEqual(['.hidden.ts', 'kept.ts']);
    expect(await readdir(join(dir, STATE_DIR, 'staged'))).toEqual([]);
  });

  it('Should leave the copies another server on the folder still marks as in use', async () => {
    const source = folderSource(dir);
    const live = await source.stage?.('live', 'export default () => 1;', 'ts');
    const path = fileURLToPath(live?.entry.url as string);
    const old = new Date(Date.now() - STAGED_STALE_MS - 1_000);
    await utimes(path, old, old);
    // A fresh copy, and an old one its server has just marked again.
    const fresh = await source.stage?.('fresh', 'export default () => 2;', 'ts');
    await live?.keep?.();
    await folderSource(dir).sweep?.();
    const files = await readdir(join(dir, STATE_DIR, 'staged'));
    expect(files).toContain(basename(path));
    expect(files).toContain(basename(fileURLToPath(fresh?.entry.url as string)));
  });

  it('Should save the state atomically in .ebbflow/ and read it back', async () => {
    const source = folderSource(dir);
    expect(await source.loadState?.()).toBeUndefined();
    await source.saveState?.('{"a":1}');
    expect(await readFile(join(dir, STATE_DIR, STATE_FILE), 'utf8')).toBe('{"a":1}');
    expect(await source.loadState?.()).toBe('{"a":1}');
    expect((await source.list()).entries).toEqual([]);
  });

  it('Should read the state an earlier version kept in the folder, and move it at the next save', async () => {
    await writeFile(join(dir, '.ebbflow-versions.json'), '{"old":1}');
    const source = folderSource(dir);
    expect(await source.loadState?.()).toBe('{"old":1}');
    await source.saveState?.('{"new":1}');
    expect(await visible(dir)).toEqual([]);
    expect(await source.loadState?.()).toBe('{"new":1}');
  });

  it('Should keep, read and drop the sources of versions', async () => {
    const source = folderSource(dir);
    expect(await source.keptSource?.('greet', 1)).toBeUndefined();
    await source.keepSource?.('greet', 1, 'export default () => 1;', 'ts');
    await source.keepSource?.('greet', 2, 'export default () => 2;', 'js');
    expect(await source.keptSource?.('greet', 1)).toEqual({
      text: 'export default () => 1;',
      language: 'ts',
    });
    expect((await source.keptSource?.('greet', 2))?.language).toBe('js');
    await source.dropSource?.('greet', 1);
    expect(await source.keptSource?.('greet', 1)).toBeUndefined();
    // Kept apart from the functions: never listed, never in the folder a person sees.
    expect((await source.list()).entries).toEqual([]);
    expect(await visible(dir)).toEqual([]);
  });

  it('Should report a write, a save by rename and a removal, each once debounced', async () => {
    const source = folderSource(dir, { debounceMs: 100 });
    let changes = 0;
    const stop = source.watch?.(() => changes++) as () => void;
    try {
      await writeFile(join(dir, 'a.ts'), 'export default () => 1;');
      await until(() => changes === 1, 10_000);
      // An editor's save: a temporary file renamed over the module.
      await writeFile(join(dir, 'a.ts.swp~'), 'export default () => 2;');
      await rename(join(dir, 'a.ts.swp~'), join(dir, 'a.ts'));
      await until(() => changes === 2, 10_000);
      await rm(join(dir, 'a.ts'));
      await until(() => changes === 3, 10_000);
      // Hidden files (deploys being staged, the state) are not changes of the folder.
      await source.saveState?.('{}');
      const staged = await source.stage?.('b', '', 'ts');
      await staged?.discard();
      await writeFile(join(dir, 'c.ts'), '');
      await until(() => changes === 4, 10_000);
    } finally {
      stop();
    }
  });
});
