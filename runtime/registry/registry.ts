/**
 * The function registry: which functions exist, the version of each, and their lifecycle. Every
 * version is loaded and checked before it takes over (a broken one is refused and the old one
 * keeps serving); then new and queued tasks move to it while running ones finish on the old
 * version, whose workers then retire. Deploys, deletes and hand edits of one name run one at a
 * time, so racing deploys each land whole. Versions survive a restart in the source's state.
 * @module
 */

import {
  deployUnsupported,
  draining,
  invalidFunction,
  messageOf as message,
  unknownFunction,
} from '../errors.ts';
import type { FunctionPool } from '../pool/pool.ts';
import type { Clock, TimerId } from '../time/clock.ts';
import { unrefTimer } from '../time/timers.ts';
import {
  type FunctionEntry,
  type FunctionSource,
  KEEP_STAGED_MS,
  type SourceLanguage,
  type StagedSource,
} from '../worker-host.ts';
import { sha256Hex } from './sha256.ts';

export interface RegistryDeps {
  source: FunctionSource;
  /** A pool for `entry`, loaded, probed and active; rejects with the loader's message. */
  load(entry: FunctionEntry): Promise<FunctionPool>;
  /**
   * Start a new version's warm workers before it takes over, so a swap leaves no gap without
   * workers (within the worker ceiling; what it cannot start now, scaling starts later).
   */
  prewarm(pool: FunctionPool): Promise<void>;
  /** A pool that only queues, standing for a function while it loads. */
  placeholder(entry: FunctionEntry): FunctionPool;
  /** A pool that fails its tasks with `reason` (a module that never loaded). */
  unavailable(entry: FunctionEntry, reason: string): FunctionPool;
  /** Told after pools came or went: minimums may be met again. */
  changed(): void;
  draining(): boolean;
  log(message: string): void;
  /** Time and timers (the runtime's clock, so tests can drive them). */
  clock: Clock;
  /** Functions loaded at once while starting. */
  loadConcurrency: number;
  /**
   * Load every version from a copy of the source it was read from (the host's workers import the
   * module file as each starts), not only deployed ones.
   */
  snapshots: boolean;
}

/** What a version is, beside its pool. */
export interface VersionInfo {
  version: number;
  sha256: string;
  deployedAt: number;
}

interface Current extends VersionInfo {
  pool: FunctionPool;
  /** A placeholder while the function found at start loads. */
  loading?: boolean;
  /** The version's hidden copy, which its workers load; deleted once it has ended. */
  staged?: StagedSource;
}

/** What the state file keeps per name: the last version, so numbers only grow. */
interface SavedVersion extends VersionInfo {
  deleted?: boolean;
}

export class FunctionRegistry {
  #deps: RegistryDeps;
  #current = new Map<string, Current>();
  /** Versions that were replaced or deleted and still finish their tasks. */
  #ending = new Set<Current>();
  #saved = new Map<string, SavedVersion>();
  /** Why the last deploy or edit of a name was refused, and the source's hash then. */
  #refused = new Map<string, { error: string; sha256: string }>();
  #locks = new Map<string, Promise<unknown>>();
  #warned = new Set<string>();
  #stopWatching: (() => void) | undefined;
  /** The state as last loaded or saved: unchanged state is not written again. */
  #savedText: string | undefined;
  #loaded: Promise<void> = Promise.resolve();
  #closed = false;
  #keeping: TimerId | undefined;

  constructor(deps: RegistryDeps) {
    this.#deps = deps;
  }

  /**
   * List the functions of the source, stand a placeholder for each (its tasks wait), and load
   * them in the background, those with tasks waiting first (`loaded()` says when all are); then
   * watch the source for hand edits.
   */
  async start(): Promise<void> {
    const { source } = this.#deps;
    // Copies a process that is gone left behind (servers sharing the folder keep theirs marked).
    await source.sweep?.().catch(() => {});
    this.#keepCopies();
    const state = await source.loadState?.();
    this.#savedText = state;
    if (state) this.#restore(state);
    const { entries, warnings } = await source.list();
    this.#warn(warnings);
    // Removed while the server was down: a later deploy of the name is a new version.
    for (const [name, saved] of this.#saved) {
      if (!entries.some((e) => e.name === name)) this.#saved.set(name, { ...saved, deleted: true });
    }
    for (const entry of entries) {
      const pool = this.#deps.placeholder(entry);
      const version = this.#saved.get(entry.name)?.version ?? 0;
      this.#current.set(entry.name, { pool, version, sha256: '', deployedAt: 0, loading: true });
    }
    this.#loaded = this.#loadAll(entries);
    if (source.watch) {
      try {
        this.#stopWatching = source.watch(() => void this.rescan());
      } catch (error) {
        this.#deps.log(
          `hot reload is off: the functions folder cannot be watched: ${message(error)}`,
        );
      }
    }
  }

  /** Resolves once every function found at start has loaded or failed to. */
  loaded(): Promise<void> {
    return this.#loaded;
  }

  async #loadAll(entries: FunctionEntry[]): Promise<void> {
    const waiting = [...entries];
    // A function someone already called goes first: serve what is asked for.
    const next = () => {
      const asked = waiting.findIndex((e) => (this.#current.get(e.name)?.pool.queueSize ?? 0) > 0);
      return waiting.splice(Math.max(asked, 0), 1)[0];
    };
    const lanes = Array.from({ length: Math.max(1, this.#deps.loadConcurrency) }, async () => {
      for (let entry = next(); entry; entry = next()) {
        const found = entry;
        await this.#serial(found.name, () => this.#reload(found)).catch((error) =>
          this.#deps.log(`${found.name}: ${message(error)}`),
        );
      }
    });
    await Promise.all(lanes);
    await this.#save();
  }

  /** The pools that serve (loading placeholders left out), for the scaler. */
  serving(): FunctionPool[] {
    return this.pools().filter((pool) => !this.#current.get(pool.name)?.loading);
  }

  /** The current pools, by name. */
  pools(): FunctionPool[] {
    return [...this.#current.values()]
      .sort((a, b) => a.pool.name.localeCompare(b.pool.name))
      .map((c) => c.pool);
  }

  /** Current and ending pools: everything that holds workers or tasks. */
  *all(): Iterable<FunctionPool> {
    for (const current of this.#current.values()) yield current.pool;
    for (const ending of this.#ending) yield ending.pool;
  }

  get(name: string): FunctionPool | undefined {
    return this.#current.get(name)?.pool;
  }

  /** A name's version fields and last refusal, for its FunctionInfo. */
  describe(name: string): Partial<VersionInfo> & { lastError?: string; status?: 'loading' } {
    const current = this.#current.get(name);
    const refused = this.#refused.get(name);
    const info: Partial<VersionInfo> & { lastError?: string } = {};
    if (current?.loading) return { status: 'loading' };
    if (current) {
      info.version = current.version;
      info.sha256 = current.sha256;
      info.deployedAt = current.deployedAt;
    }
    if (refused) info.lastError = refused.error;
    return info;
  }

  /** Deploy a source as `name`; resolves with whether the name is new. */
  deploy(name: string, text: string, language: SourceLanguage): Promise<{ created: boolean }> {
    const { source } = this.#deps;
    if (!source.stage) return Promise.reject(deployUnsupported());
    if (this.#deps.draining()) return Promise.reject(draining());
    return this.#serial(name, async () => {
      const created = !this.#current.has(name);
      let staged: StagedSource;
      try {
        staged = await (source.stage as NonNullable<FunctionSource['stage']>)(name, text, language);
      } catch (error) {
        throw deployUnsupported(`the functions folder cannot be written: ${message(error)}`);
      }
      const sha256 = await sha256Hex(text);
      let pool: FunctionPool;
      try {
        pool = await this.#deps.load(staged.entry);
      } catch (error) {
        await staged.discard();
        // Named as the file it would have become, not ebbflow's hidden copy.
        const why = message(error).replaceAll(fileName(staged.entry.url), `${name}.${language}`);
        // Shown on the version that keeps serving (a new name has none to show it on).
        if (!created) this.#refused.set(name, { error: why, sha256 });
        throw invalidFunction(name, why);
      }
      if (this.#closed) {
        await pool.close('the runtime shut down');
        await staged.discard();
        throw draining();
      }
      await staged.commit();
      if (!created) {
        this.#number(name, pool, sha256);
        await this.#deps.prewarm(pool);
      }
      this.#install(name, pool, sha256, staged);
      await this.#save();
      return { created };
    });
  }

  /** Delete `name` and its file; resolves with the version it had. */
  remove(name: string): Promise<VersionInfo> {
    return this.#serial(name, async () => {
      const current = this.#current.get(name);
      if (!current) throw unknownFunction(name);
      await this.#deps.source.remove?.(name);
      this.#drop(name, current);
      await this.#save();
      return { version: current.version, sha256: current.sha256, deployedAt: current.deployedAt };
    });
  }

  /** Compare the source with what serves, and load what came, changed or went. */
  async rescan(): Promise<void> {
    if (this.#deps.draining()) return;
    let listing: Awaited<ReturnType<FunctionSource['list']>>;
    try {
      listing = await this.#deps.source.list();
    } catch (error) {
      this.#deps.log(`hot reload: cannot list the functions: ${message(error)}`);
      return;
    }
    this.#warn(listing.warnings);
    const seen = new Set(listing.entries.map((e) => e.name));
    const jobs = listing.entries.map((entry) =>
      this.#serial(entry.name, () => this.#reload(entry)),
    );
    for (const name of this.#current.keys()) {
      if (seen.has(name)) continue;
      jobs.push(
        this.#serial(name, async () => {
          const current = this.#current.get(name);
          // Gone from the folder by hand (a deploy in between would have brought it back).
          const still = await this.#deps.source.list().catch(() => undefined);
          if (!current || still?.entries.some((e) => e.name === name)) return;
          this.#drop(name, current);
          this.#deps.log(`ebbflow: delete ${name} version=${current.version} via=folder`);
        }),
      );
    }
    await Promise.allSettled(jobs);
    await this.#save();
  }

  /** Stop watching; the pools are closed by the runtime. */
  close(): void {
    this.#closed = true;
    this.#deps.clock.clearTimeout(this.#keeping);
    this.#stopWatching?.();
    this.#stopWatching = undefined;
  }

  /** Delete every version's snapshot (once the pools are closed). */
  async dispose(): Promise<void> {
    const all = [...this.#current.values(), ...this.#ending];
    await Promise.allSettled(all.map((version) => version.staged?.discard()));
  }

  /** Forget versions that have ended, and delete their snapshots. */
  prune(): void {
    for (const ending of this.#ending) {
      if (!ending.pool.ended) continue;
      this.#ending.delete(ending);
      void ending.staged?.discard();
    }
  }

  /** Mark every live version's copy as in use every `KEEP_STAGED_MS`, until closed. */
  #keepCopies(): void {
    const { clock } = this.#deps;
    const schedule = () => {
      this.#keeping = clock.setTimeout(tick, KEEP_STAGED_MS);
      unrefTimer(this.#keeping);
    };
    const tick = () => {
      if (this.#closed) return;
      for (const version of [...this.#current.values(), ...this.#ending]) {
        void version.staged?.keep?.();
      }
      schedule();
    };
    schedule();
  }

  /** Load the module at `entry` when its source differs from what serves (start, hand edits). */
  async #reload(entry: FunctionEntry): Promise<void> {
    const { source } = this.#deps;
    const { name } = entry;
    let text: string | undefined;
    try {
      text = await source.read?.(entry);
    } catch {
      return; // gone between the listing and now: the next scan sees it
    }
    const sha256 = text === undefined ? '' : await sha256Hex(text);
    const found = this.#current.get(name);
    // A placeholder is no version: the module loads whatever its hash.
    const current = found?.loading ? undefined : found;
    if (current && current.sha256 === sha256) return;
    if (this.#refused.get(name)?.sha256 === sha256 && sha256 !== '') return;
    // A hand edit after this is picked up as the next version. Where workers import the file as
    // they start, this version loads a copy of the text just read: what a later edit or deploy
    // writes over the file never runs under this version's number.
    const staged = text === undefined ? undefined : await this.#snapshot(entry, text);
    try {
      const pool = await this.#deps.load(staged?.entry ?? entry);
      if (this.#closed) {
        await pool.close('the runtime shut down');
        await staged?.discard();
        return;
      }
      if (current) {
        this.#number(name, pool, sha256);
        await this.#deps.prewarm(pool);
      }
      this.#install(name, pool, sha256, staged);
      // Found at start goes without saying; a file added or changed later is logged.
      if (!found?.loading) {
        const what = current ? 'reload' : 'add';
        this.#deps.log(
          `ebbflow: ${what} ${name} version=${this.#current.get(name)?.version} sha256=${sha256} via=folder`,
        );
      }
    } catch (error) {
      await staged?.discard();
      // The loader names the file it read: the one the person edited, not ebbflow's copy.
      const why = staged
        ? message(error).replaceAll(fileName(staged.entry.url), fileName(entry.url))
        : message(error);
      this.#refused.set(name, { error: why, sha256 });
      if (current) {
        this.#deps.log(
          `${name}: the edit was not loaded (version ${current.version} still serves): ${why}`,
        );
        return;
      }
      // Nothing serves this name yet: it is listed as unavailable, with the loader's message.
      const pool = this.#deps.unavailable(entry, why);
      this.#install(name, pool, sha256, undefined);
      this.#refused.delete(name);
    }
  }

  /**
   * A hidden copy of `text` for a version's workers to load, where the host needs one and the
   * source can write it; otherwise (a read-only folder) the version loads the file itself.
   */
  async #snapshot(entry: FunctionEntry, text: string): Promise<StagedSource | undefined> {
    const { source, snapshots } = this.#deps;
    if (!snapshots || !source.stage) return undefined;
    const language: SourceLanguage = entry.url.endsWith('.ts') ? 'ts' : 'js';
    try {
      return await source.stage(entry.name, text, language);
    } catch (error) {
      this.#warn([
        `${entry.name}: no copy of the source could be written beside it (${message(error)}); its workers load the file itself, so an edit reaches workers started after it`,
      ]);
      return undefined;
    }
  }

  /**
   * Number `pool` as the next version of `name` (the one it had, for a source found unchanged at
   * start), before its warm workers start: every run it ends carries that number.
   */
  #number(name: string, pool: FunctionPool, sha256: string): VersionInfo {
    const previous = this.#current.get(name);
    const saved = this.#saved.get(name);
    const fresh = !previous || previous.loading;
    const unchanged = saved && !saved.deleted && saved.sha256 === sha256 && fresh;
    const version = unchanged
      ? saved.version
      : Math.max(saved?.version ?? 0, previous?.version ?? 0) + 1;
    pool.version = version;
    return { version, sha256, deployedAt: unchanged ? saved.deployedAt : this.#deps.clock.now() };
  }

  /** Make `pool` the current version of `name`; the one before ends. */
  #install(name: string, pool: FunctionPool, sha256: string, staged?: StagedSource): void {
    const previous = this.#current.get(name);
    const { version, deployedAt } =
      pool.version === undefined
        ? this.#number(name, pool, sha256)
        : { version: pool.version, deployedAt: this.#deps.clock.now() };
    const next: Current = { pool, version, sha256, deployedAt, staged };
    this.#current.set(name, next);
    this.#saved.set(name, { version, sha256, deployedAt });
    if (pool.status === 'ready') this.#refused.delete(name);
    if (previous) {
      // Counters stay with the name, so /stats does not restart at each deploy.
      pool.counters.carryOver(previous.pool.counters);
      this.#ending.add(previous);
      // What waits in the backend is claimed by the new version from now on.
      previous.pool.end(() => false, pool);
    }
    pool.available();
    this.#deps.changed();
    this.prune();
  }

  #drop(name: string, current: Current): void {
    this.#current.delete(name);
    this.#refused.delete(name);
    this.#saved.set(name, { ...(this.#saved.get(name) as SavedVersion), deleted: true });
    this.#ending.add(current);
    // Tasks it accepted still run here, unless another version of the name comes first.
    current.pool.end(() => !this.#current.has(name));
    // Deleted before it loaded: nothing will ever run what waits for it.
    if (current.loading) {
      void current.pool.failWaiting(
        'function_deleted',
        `function "${name}" was deleted before it loaded`,
      );
    }
    this.#deps.changed();
    this.prune();
  }

  /** Run `job` after every earlier job of `name`. */
  #serial<T>(name: string, job: () => Promise<T>): Promise<T> {
    const before = this.#locks.get(name) ?? Promise.resolve();
    const run = before.then(job, job);
    const tail = run.catch(() => {});
    this.#locks.set(name, tail);
    void tail.then(() => {
      if (this.#locks.get(name) === tail) this.#locks.delete(name);
    });
    return run;
  }

  #restore(text: string): void {
    try {
      const state = JSON.parse(text) as { functions?: Record<string, SavedVersion> };
      for (const [name, saved] of Object.entries(state.functions ?? {})) {
        if (Number.isSafeInteger(saved.version)) this.#saved.set(name, saved);
      }
    } catch (error) {
      this.#deps.log(
        `the versions file is unreadable, versions start again at 1: ${message(error)}`,
      );
    }
  }

  async #save(): Promise<void> {
    const save = this.#deps.source.saveState;
    if (!save) return;
    const functions = Object.fromEntries([...this.#saved].sort(([a], [b]) => a.localeCompare(b)));
    const text = `${JSON.stringify({ functions }, null, 2)}\n`;
    if (text === this.#savedText) return;
    try {
      await save(text);
      this.#savedText = text;
    } catch (error) {
      this.#deps.log(
        `the versions file cannot be written (versions restart at a restart): ${message(error)}`,
      );
    }
  }

  #warn(warnings: string[]): void {
    for (const warning of warnings) {
      if (this.#warned.has(warning)) continue;
      this.#warned.add(warning);
      this.#deps.log(warning);
    }
  }
}

/** The last segment of a URL's path. */
const fileName = (url: string): string => url.slice(url.lastIndexOf('/') + 1);
