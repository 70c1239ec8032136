import { mkdtemp, readdir, readFile, rename, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { until } from '../../test/support/wait.ts';
import { STAGED_STALE_MS } from '../worker-host.ts';
import { folderSource, STATE_FILE } from './fs-source.ts';

describe('folderSource', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ebbflow-source-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('Should stage a source under a hidden name, then commit a copy over the other extension', async () => {
    await writeFile(join(dir, 'greet.js'), 'export default () => "old";');
    const source = folderSource(dir);
    const staged = await source.stage?.('greet', 'export default () => "new";', 'ts');
    expect(staged?.entry.url).toMatch(/\/\.greet\.[0-9a-f]{8}\.deploy\.ts$/);
    // Not listed while staged: the old module still serves.
    expect((await source.list()).entries.map((e) => e.url)).toEqual([
      `file://${join(dir, 'greet.js')}`,
    ]);
    const entry = await staged?.commit();
    expect(entry?.url).toBe(`file://${join(dir, 'greet.ts')}`);
    // The hidden copy stays (the version's workers load it) until discarded.
    expect((await readdir(dir)).sort()).toEqual([basename(staged?.entry.url ?? ''), 'greet.ts']);
    await staged?.discard();
    expect(await readdir(dir)).toEqual(['greet.ts']);
    expect(await source.read?.(entry as { name: string; url: string })).toContain('"new"');
  });

  it('Should discard a staged source and remove every extension of a name', async () => {
    const source = folderSource(dir);
    const staged = await source.stage?.('x', 'syntax error here', 'js');
    await staged?.discard();
    expect(await readdir(dir)).toEqual([]);
    await writeFile(join(dir, 'x.mjs'), '');
    expect(await source.remove?.('x')).toBe(true);
    expect(await source.remove?.('x')).toBe(false);
  });

  it('Should sweep what staging left behind, and nothing else', async () => {
    const source = folderSource(dir);
    const left = await source.stage?.('left', 'export default () => 1;', 'ts');
    await writeFile(join(dir, '.left.0123abcd.tmp'), '');
    await writeFile(join(dir, '.hidden.ts'), '');
    await writeFile(join(dir, 'kept.ts'), '');
    // Left by a process that is gone: nobody marked them for longer than the stale time.
    const old = new Date(Date.now() - STAGED_STALE_MS - 1_000);
    for (const file of [
      fileURLToPath(left?.entry.url as string),
      join(dir, '.left.0123abcd.tmp'),
    ]) {
      await utimes(file, old, old);
    }
    await source.sweep?.();
    expect((await readdir(dir)).sort()).toEqual(['.hidden.ts', 'kept.ts']);
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
    const files = await readdir(dir);
    expect(files).toContain(basename(path));
    expect(files).toContain(basename(fileURLToPath(fresh?.entry.url as string)));
  });

  it('Should save the state atomically and read it back', async () => {
    const source = folderSource(dir);
    expect(await source.loadState?.()).toBeUndefined();
    await source.saveState?.('{"a":1}');
    expect(await readFile(join(dir, STATE_FILE), 'utf8')).toBe('{"a":1}');
    expect(await source.loadState?.()).toBe('{"a":1}');
    expect((await source.list()).entries).toEqual([]);
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
