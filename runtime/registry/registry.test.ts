/**
 * The registry without threads or files: an in-memory source and the in-process host, with loads
 * held open at will, so the orders that matter (a call while loading, a delete while loading,
 * racing deploys, an edit during a deploy) are driven step by step.
 */
import { describe, expect, it } from 'vitest';
import { flush } from '../../test/support/in-process.ts';
import { until } from '../../test/support/wait.ts';
import { inProcessHost } from '../host/in-process.ts';
import { createRuntime, type Runtime } from '../index.ts';
import { ManualClock } from '../time/manual-clock.ts';
import { type FunctionEntry, type FunctionSource, KEEP_STAGED_MS } from '../worker-host.ts';

/**
 * Sources are tiny programs for the loader below: `answer:<text>` answers `<text>`; `broken`
 * throws at load.
 */
const memoryFolder = () => {
  const files = new Map<string, string>();
  const staged = new Map<string, string>();
  /** How often each staged copy was marked as in use. */
  const kept = new Map<string, number>();
  /** Kept sources of versions, by `name@version`. */
  const sources = new Map<string, { text: string; language: 'ts' | 'js' }>();
  let changed: () => void = () => {};
  let state: string | undefined;
  let n = 0;
  const source: FunctionSource = {
    list: async () => ({
      entries: [...files.keys()].sort().map((name) => ({ name, url: `mem:${name}` })),
      warnings: [],
    }),
    read: async (entry) => {
      const text = files.get(entry.name);
      if (text === undefined) throw new Error(`${entry.name}: no such file`);
      return text;
    },
    stage: async (name, text) => {
      const url = `mem:.${name}.${++n}`;
      staged.set(url, text);
      return {
        entry: { name, url },
        commit: async () => {
          files.set(name, text);
          return { name, url: `mem:${name}` };
        },
        discard: async () => {
          staged.delete(url);
        },
        keep: async () => {
          kept.set(url, (kept.get(url) ?? 0) + 1);
        },
      };
    },
    remove: async (name) => files.delete(name),
    watch: (listener) => {
      changed = listener;
      return () => {};
    },
    loadState: async () => state,
    saveState: async (text) => {
      state = text;
    },
    keepSource: async (name, version, text, language) => {
      sources.set(`${name}@${version}`, { text, language });
    },
    keptSource: async (name, version) => sources.get(`${name}@${version}`),
    dropSource: async (name, version) => {
      sources.delete(`${name}@${version}`);
    },
  };
  const text = (entry: FunctionEntry) => staged.get(entry.url) ?? files.get(entry.name) ?? '';
  return { source, files, staged, kept, sources, text, edit: () => changed() };
};

/** A loader that can hold the load of a function until the test lets it go. */
const heldLoads = (text: (entry: FunctionEntry) => string) => {
  const holds = new Map<string, Promise<void>>();
  const hold = (name: string) => {
    let release: () => void = () => {};
    holds.set(
      name,
      new Promise((resolve) => {
        release = resolve;
      }),
    );
    return () => {
      holds.delete(name);
      release();
    };
  };
  /** Loads that reached a hold, by name. */
  const held = new Map<string, number>();
  // The text is read once the hold ends, as a worker reads its module when it starts.
  const load = async (entry: FunctionEntry) => {
    const gate = holds.get(entry.name);
    if (gate) held.set(entry.name, (held.get(entry.name) ?? 0) + 1);
    await gate;
    const source = text(entry);
    if (source === 'broken') throw new Error('broken at load');
    const answer = source.replace(/^answer:/, '');
    return { default: () => answer };
  };
  return { hold, load, held: (name: string) => held.get(name) ?? 0 };
};

const start = async (
  folder: ReturnType<typeof memoryFolder>,
  load: (entry: FunctionEntry) => Promise<Record<string, unknown>>,
  options: { waitForFunctions?: boolean; maxWorkers?: number; keepVersions?: number } = {},
): Promise<Runtime> =>
  createRuntime({
    source: folder.source,
    host: inProcessHost({ load, cores: 2 }),
    minWorkers: 1,
    maxWorkers: options.maxWorkers ?? 4,
    waitForFunctions: options.waitForFunctions ?? true,
    keepVersions: options.keepVersions,
    log: () => {},
  });

describe('the function registry', () => {
  it('Should hold a call to a function still loading and run it once loaded', async () => {
    const folder = memoryFolder();
    folder.files.set('slow', 'answer:late');
    const { hold, load } = heldLoads(folder.text);
    const release = hold('slow');
    const rt = await start(folder, load, { waitForFunctions: false });
    expect(rt.getFunction('slow')?.status).toBe('loading');
    expect(rt.readiness()).toEqual({ status: 'loading', loading: ['slow'] });
    let settled = false;
    const call = rt.call('slow', []).finally(() => {
      settled = true;
    });
    await flush();
    expect(settled).toBe(false);
    release();
    expect(await call).toMatchObject({ status: 'completed', result: 'late', version: 1 });
    expect(rt.readiness()).toEqual({ status: 'ready' });
    await rt.close();
    expect(rt.readiness()).toEqual({ status: 'draining' });
  });

  it('Should refuse what waited for a function deleted before it loaded', async () => {
    const folder = memoryFolder();
    folder.files.set('a', 'answer:a');
    folder.files.set('b', 'answer:b');
    const { hold, load } = heldLoads(folder.text);
    const release = hold('a');
    // One load at a time: b waits behind a.
    const rt = await start(folder, load, { waitForFunctions: false, maxWorkers: 1 });
    const task = rt.submit('b', []);
    const removed = await rt.remove('b');
    expect(removed).toMatchObject({ name: 'b', status: 'deleted' });
    await expect(task).rejects.toMatchObject({ code: 'unknown_function' });
    release();
    await rt.loaded();
    expect(rt.functions().map((f) => f.name)).toEqual(['a']);
    await rt.close();
  });

  it('Should give racing deploys consecutive versions, the later one serving whole', async () => {
    const folder = memoryFolder();
    const { hold, load } = heldLoads(folder.text);
    const rt = await start(folder, load);
    const release = hold('race');
    const first = rt.deploy('race', 'answer:first', 'ts');
    const second = rt.deploy('race', 'answer:second', 'ts');
    release();
    expect((await first).info.version).toBe(1);
    expect((await second).info.version).toBe(2);
    expect(await rt.call('race', [])).toMatchObject({ result: 'second', version: 2 });
    expect(folder.files.get('race')).toBe('answer:second');
    // Each version's copy is deleted once it has ended; the serving one's stays.
    await until(() => folder.staged.size === 1);
    await rt.close();
    expect(folder.staged.size).toBe(0);
  });

  it('Should take an edit made during a deploy as the next version, not a mix', async () => {
    const folder = memoryFolder();
    folder.files.set('f', 'answer:start');
    const { hold, load } = heldLoads(folder.text);
    const rt = await start(folder, load);
    const release = hold('f');
    const deploy = rt.deploy('f', 'answer:deployed', 'ts');
    // A hand edit lands while the deploy is loading: the watcher fires.
    folder.files.set('f', 'answer:edited');
    folder.edit();
    release();
    expect((await deploy).info.version).toBe(2);
    // The deploy wrote its source over the edit; the registry then finds it unchanged.
    await until(() => rt.getFunction('f')?.version === 2);
    expect(await rt.call('f', [])).toMatchObject({ result: 'deployed', version: 2 });
    await rt.close();
  });

  it('Should run a version on the source it was read from, not on a later edit of the file', async () => {
    const folder = memoryFolder();
    folder.files.set('f', 'answer:one');
    const { hold, load, held } = heldLoads(folder.text);
    const release = hold('f');
    const rt = await start(folder, load, { waitForFunctions: false });
    // The file changes after it was read (and hashed) but before a worker loaded it.
    await until(() => held('f') > 0);
    folder.files.set('f', 'answer:two');
    release();
    await rt.loaded();
    expect(await rt.call('f', [])).toMatchObject({ result: 'one', version: 1 });
    // Workers the first version starts later still run its source; the edit is the next version.
    folder.edit();
    await until(() => rt.getFunction('f')?.version === 2);
    expect(await rt.call('f', [])).toMatchObject({ result: 'two', version: 2 });
    await rt.close();
    expect(folder.staged.size).toBe(0);
  });

  it('Should load the file itself, and say so once, where no copy can be written', async () => {
    const folder = memoryFolder();
    folder.files.set('f', 'answer:one');
    folder.source.stage = async () => {
      throw new Error('EROFS: read-only file system');
    };
    const logs: string[] = [];
    const rt = await createRuntime({
      source: folder.source,
      host: inProcessHost({ load: heldLoads(folder.text).load, cores: 2 }),
      minWorkers: 1,
      maxWorkers: 4,
      log: (line) => logs.push(line),
    });
    expect(await rt.call('f', [])).toMatchObject({ result: 'one', version: 1 });
    folder.files.set('f', 'answer:two');
    folder.edit();
    await until(() => rt.getFunction('f')?.version === 2);
    expect(await rt.call('f', [])).toMatchObject({ result: 'two', version: 2 });
    const warnings = logs.filter((line) => line.includes('no copy of the source'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('EROFS');
    await rt.close();
  });

  it('Should mark the copies of live versions as in use, so a server sharing the folder keeps them', async () => {
    const folder = memoryFolder();
    folder.files.set('f', 'answer:one');
    const clock = new ManualClock(Date.now());
    const rt = await createRuntime({
      source: folder.source,
      host: inProcessHost({ load: heldLoads(folder.text).load, cores: 2 }),
      clock,
      minWorkers: 1,
      log: () => {},
    });
    const [copy] = [...folder.staged.keys()];
    expect(folder.kept.get(copy as string)).toBeUndefined();
    clock.advance(KEEP_STAGED_MS);
    clock.advance(KEEP_STAGED_MS);
    expect(folder.kept.get(copy as string)).toBe(2);
    await rt.close();
    clock.advance(KEEP_STAGED_MS);
    expect(folder.kept.get(copy as string)).toBe(2);
  });

  it('Should refuse a broken deploy, keep the old version, and remember why', async () => {
    const folder = memoryFolder();
    folder.files.set('f', 'answer:good');
    const { load } = heldLoads(folder.text);
    const rt = await start(folder, load);
    await expect(rt.deploy('f', 'broken', 'ts')).rejects.toMatchObject({
      code: 'invalid_function',
      message: expect.stringContaining('broken at load'),
    });
    expect(rt.getFunction('f')).toMatchObject({ version: 1, status: 'ready' });
    expect(rt.getFunction('f')?.lastError).toContain('broken at load');
    expect(folder.files.get('f')).toBe('answer:good');
    // The refused source's copy is gone; the serving version's stays.
    expect(folder.staged.size).toBe(1);
    expect(await rt.call('f', [])).toMatchObject({ result: 'good' });
    await rt.close();
  });
});

describe('versions and rollback', () => {
  it('Should make no new version for a deploy of the source that serves', async () => {
    const folder = memoryFolder();
    const { load } = heldLoads(folder.text);
    const rt = await start(folder, load);
    expect((await rt.deploy('f', 'answer:one', 'ts')).info.version).toBe(1);
    const again = await rt.deploy('f', 'answer:one', 'ts');
    expect(again).toMatchObject({ created: false, unchanged: true, info: { version: 1 } });
    // Nothing loaded for it: no copy was written.
    expect(folder.staged.size).toBe(1);
    // The same text in another language is another module file: a new version.
    expect((await rt.deploy('f', 'answer:one', 'js')).info.version).toBe(2);
    expect((await rt.versions('f')).versions.map((v) => v.version)).toEqual([2, 1]);
    await rt.close();
  });

  it('Should roll back to the previous version under its number, and number the next deploy past the highest', async () => {
    const folder = memoryFolder();
    const { load } = heldLoads(folder.text);
    const rt = await start(folder, load);
    for (const tag of ['one', 'two', 'three']) await rt.deploy('f', `answer:${tag}`, 'ts');
    const back = await rt.rollback('f');
    expect(back.info).toMatchObject({ version: 2, status: 'ready' });
    expect(back.unchanged).toBeUndefined();
    expect(await rt.call('f', [])).toMatchObject({ result: 'two', version: 2 });
    // Written into place, so a restart serves it.
    expect(folder.files.get('f')).toBe('answer:two');
    // Again: one step further back; then there is none older.
    expect((await rt.rollback('f')).info.version).toBe(1);
    await expect(rt.rollback('f')).rejects.toMatchObject({ code: 'no_previous_version' });
    // Forward to a given version, and to the one serving (nothing happens).
    expect((await rt.rollback('f', 3)).info.version).toBe(3);
    expect(await rt.rollback('f', 3)).toMatchObject({ unchanged: true, info: { version: 3 } });
    await rt.rollback('f', 1);
    expect((await rt.deploy('f', 'answer:four', 'ts')).info.version).toBe(4);
    const listed = await rt.versions('f');
    expect(listed.version).toBe(4);
    expect(listed.versions.map((v) => [v.version, v.serving])).toEqual([
      [4, true],
      [3, false],
      [2, false],
      [1, false],
    ]);
    await rt.close();
  });

  it('Should refuse a rollback to a version that is not kept, or of an unknown function', async () => {
    const folder = memoryFolder();
    const { load } = heldLoads(folder.text);
    const rt = await start(folder, load);
    await rt.deploy('f', 'answer:one', 'ts');
    await expect(rt.rollback('f', 7)).rejects.toMatchObject({
      code: 'unknown_version',
      message: expect.stringContaining('kept: 1'),
    });
    await expect(rt.rollback('nope')).rejects.toMatchObject({ code: 'unknown_function' });
    await expect(rt.versions('nope')).rejects.toMatchObject({ code: 'unknown_function' });
    await expect(rt.rollback('f', 0)).rejects.toMatchObject({ code: 'invalid_argument' });
    await rt.close();
  });

  it('Should keep the newest versions only, and their sources only', async () => {
    const folder = memoryFolder();
    const { load } = heldLoads(folder.text);
    const rt = await start(folder, load, { keepVersions: 3 });
    for (let i = 1; i <= 5; i++) await rt.deploy('f', `answer:v${i}`, 'ts');
    expect((await rt.versions('f')).versions.map((v) => v.version)).toEqual([5, 4, 3]);
    expect([...folder.sources.keys()].sort()).toEqual(['f@3', 'f@4', 'f@5']);
    await expect(rt.rollback('f', 2)).rejects.toMatchObject({ code: 'unknown_version' });
    // The serving version is always kept, however old.
    await rt.rollback('f', 3);
    await rt.deploy('f', 'answer:v6', 'ts');
    await rt.deploy('f', 'answer:v7', 'ts');
    expect((await rt.versions('f')).versions.map((v) => v.version)).toEqual([7, 6, 5]);
    await rt.close();
  });

  it('Should keep a version found in the folder and hand edits, and roll back a broken edit', async () => {
    const folder = memoryFolder();
    folder.files.set('f', 'answer:found');
    const { load } = heldLoads(folder.text);
    const rt = await start(folder, load);
    folder.files.set('f', 'answer:edited');
    folder.edit();
    await until(() => rt.getFunction('f')?.version === 2);
    expect((await rt.versions('f')).versions.map((v) => v.version)).toEqual([2, 1]);
    // A rollback written into place is not taken for a new edit.
    await rt.rollback('f');
    folder.edit();
    expect(await rt.call('f', [])).toMatchObject({ result: 'found', version: 1 });
    expect(rt.getFunction('f')?.version).toBe(1);
    await rt.close();
  });

  it('Should keep versions, kept sources and the highest number across a restart', async () => {
    const folder = memoryFolder();
    const { load } = heldLoads(folder.text);
    let rt = await start(folder, load);
    for (const tag of ['one', 'two', 'three']) await rt.deploy('f', `answer:${tag}`, 'ts');
    await rt.rollback('f', 1);
    await rt.close();
    rt = await start(folder, load);
    expect(rt.getFunction('f')?.version).toBe(1);
    expect((await rt.versions('f')).versions.map((v) => v.version)).toEqual([3, 2, 1]);
    expect((await rt.rollback('f', 3)).info.version).toBe(3);
    expect((await rt.deploy('f', 'answer:four', 'ts')).info.version).toBe(4);
    await rt.close();
  });

  it('Should run tasks queued before a rollback on the version rolled back to', async () => {
    const folder = memoryFolder();
    const { load } = heldLoads(folder.text);
    const rt = await start(folder, load, { maxWorkers: 1 });
    await rt.deploy('f', 'answer:one', 'ts');
    await rt.deploy('f', 'answer:two', 'ts');
    await rt.rollback('f');
    const record = await rt.call('f', []);
    expect(record).toMatchObject({ result: 'one', version: 1 });
    await rt.close();
  });
});
