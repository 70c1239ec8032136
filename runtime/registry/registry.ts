/**
 * The registry: which functions exist, the version of each, and their lifecycle. Every version
 * is loaded and checked before it takes over (a broken one is refused and the old one keeps
 * serving); then new and queued tasks move to it while running ones finish on the old version,
 * whose workers then retire. Deploys, deletes and hand edits of one name run one at a time, so
 * racing deploys each land whole. Its parts, each with one job: pool-factory.ts makes the pools,
 * versions.ts numbers the versions and keeps the numbers, staged-copies.ts holds the per-version
 * copies of the source, hot-reload.ts watches the source.
 * @module
 */

import {
  deployUnsupported,
  draining,
  invalidFunction,
  messageOf,
  noPreviousVersion,
  unknownFunction,
  unknownVersion,
} from '../errors.ts';
import type { ResolvedOptions } from '../options.ts';
import type { FunctionPool } from '../pool/pool.ts';
import type { TaskSource } from '../pool/task-source.ts';
import type { PoolView, WorkerCeiling } from '../scaling/ceiling.ts';
import type { Clock } from '../time/clock.ts';
import type { FunctionVersions } from '../types.ts';
import type {
  FunctionEntry,
  FunctionSource,
  SourceLanguage,
  StagedSource,
} from '../worker-host.ts';
import { HotReload } from './hot-reload.ts';
import { PoolFactory } from './pool-factory.ts';
import { sha256Hex } from './sha256.ts';
import { StagedCopies } from './staged-copies.ts';
import { type KeptVersion, type VersionInfo, Versions } from './versions.ts';

export interface RegistryDeps {
  /** The runtime's options: the source, the host, the clock, the log, the ceiling's size. */
  options: ResolvedOptions;
  /** The task backend as pools see it. */
  tasks: TaskSource;
  /** Where pools take room, and which deals minimums again when pools come or go. */
  ceiling: WorkerCeiling;
  /** Told after each run ends (the runtime's drain watches for idle pools). */
  ended(): void;
}

interface Current extends VersionInfo {
  pool: FunctionPool;
  /** The language of its source (a module found as `.mjs` counts as `js`). */
  language: SourceLanguage;
  /** The version's own copy of its source, which its workers load; deleted once it has ended. */
  staged?: StagedSource;
}

/** What a deploy or a rollback did. */
export interface Landed {
  created: boolean;
  /** The version asked for serves already: nothing was loaded or written. */
  unchanged?: boolean;
}

/** A pool standing for a function found at start while it loads. */
const isPlaceholder = (current: Current | undefined): boolean => current?.pool.state === 'loading';

export class Registry implements PoolView {
  #source: FunctionSource;
  #clock: Clock;
  #log: (message: string) => void;
  #ceiling: WorkerCeiling;
  #factory: PoolFactory;
  #versions: Versions;
  #copies: StagedCopies;
  #hotReload: HotReload;
  /** Functions loaded at once while starting. */
  #loadConcurrency: number;
  #current = new Map<string, Current>();
  /** Versions that were replaced or deleted and still finish their tasks. */
  #ending = new Set<Current>();
  /** Why the last deploy or edit of a name was refused, and the source's hash then. */
  #refused = new Map<string, { error: string; sha256: string }>();
  #locks = new Map<string, Promise<unknown>>();
  #warned = new Set<string>();
  #loaded: Promise<void> = Promise.resolve();
  /** Whether every function found at start has loaded (or failed to). */
  #startDone = false;
  /** Per function found at start, settled when its placeholder gives way (`whenLoaded`). */
  #placeholders = new Map<string, { settled: Promise<void>; settle: () => void }>();
  /** Functions found at start that a caller waits for: they load first. */
  #asked = new Set<string>();
  #draining = false;
  #closed = false;

  constructor({ options: o, tasks, ceiling, ended }: RegistryDeps) {
    this.#source = o.source;
    this.#clock = o.clock;
    this.#log = o.log;
    this.#ceiling = ceiling;
    const { host, clock, log } = o;
    this.#factory = new PoolFactory({ host, clock, source: tasks, ceiling, ended, log }, o);
    this.#versions = new Versions(o.source, clock, log, o.keepVersions);
    const warn = (message: string) => this.#warn(message);
    this.#copies = new StagedCopies({
      source: o.source,
      clock,
      perVersion: host.importsAtSpawn === true,
      warn,
    });
    this.#hotReload = new HotReload({
      source: o.source,
      log,
      warn,
      target: {
        names: () => this.#current.keys(),
        reload: (entry) => this.#serial(entry.name, () => this.#reload(entry)),
        unlisted: (name) => this.#serial(name, () => this.#unlisted(name)),
        scanned: () => this.#versions.save(),
      },
    });
    // Probes count against the ceiling, so no more run at once than it allows.
    this.#loadConcurrency = Math.min(2, o.maxWorkers);
  }

  /**
   * List the functions of the source, stand a placeholder for each (its tasks wait), and load
   * them in the background, those with tasks waiting first (`loaded()` says when all are); then
   * watch the source for hand edits.
   */
  async start(): Promise<void> {
    await this.#copies.start();
    await this.#versions.load();
    const { entries, warnings } = await this.#source.list();
    for (const warning of warnings) this.#warn(warning);
    this.#versions.listed(new Set(entries.map((e) => e.name)));
    for (const entry of entries) {
      const pool = this.#factory.placeholder(entry);
      const version = this.#versions.last(entry.name);
      const language = languageOf(entry.url);
      this.#current.set(entry.name, { pool, version, sha256: '', deployedAt: 0, language });
      let settle: () => void = () => {};
      const settled = new Promise<void>((resolve) => {
        settle = resolve;
      });
      this.#placeholders.set(entry.name, { settled, settle });
    }
    this.#loaded = this.#loadAll(entries).finally(() => {
      this.#startDone = true;
      // A placeholder still standing now (its file vanished before it loaded) waits no more.
      for (const { settle } of this.#placeholders.values()) settle();
      this.#placeholders.clear();
    });
    this.#hotReload.start();
  }

  /** Resolves once every function found at start has loaded or failed to. */
  loaded(): Promise<void> {
    return this.#loaded;
  }

  /**
   * The functions found at start that have not loaded yet (none once all have, or failed to):
   * what `GET /ready` waits for.
   */
  loading(): string[] {
    if (this.#startDone) return [];
    return [...this.#placeholders.keys()].filter((name) => isPlaceholder(this.#current.get(name)));
  }

  /**
   * Resolves once `name` no longer stands as a placeholder: its module loaded (or failed to, or
   * it was deleted). It loads next if it has not begun: a caller waits for it.
   */
  whenLoaded(name: string): Promise<void> {
    const placeholder = this.#placeholders.get(name);
    if (!placeholder || !isPlaceholder(this.#current.get(name))) return Promise.resolve();
    this.#asked.add(name);
    return placeholder.settled;
  }

  /** The placeholder of `name` gave way: whoever waits for it goes on. */
  #settle(name: string): void {
    const placeholder = this.#placeholders.get(name);
    if (!placeholder) return;
    this.#placeholders.delete(name);
    placeholder.settle();
  }

  async #loadAll(entries: FunctionEntry[]): Promise<void> {
    const waiting = [...entries];
    // A function someone waits for goes first: serve what is asked for.
    const next = () => {
      const asked = waiting.findIndex(
        (e) => this.#asked.has(e.name) || (this.#current.get(e.name)?.pool.queueSize ?? 0) > 0,
      );
      return waiting.splice(Math.max(asked, 0), 1)[0];
    };
    const lanes = Array.from({ length: Math.max(1, this.#loadConcurrency) }, async () => {
      for (let entry = next(); entry; entry = next()) {
        const found = entry;
        await this.#serial(found.name, () => this.#reload(found)).catch((error) =>
          this.#log(`${found.name}: ${messageOf(error)}`),
        );
      }
    });
    await Promise.all(lanes);
    await this.#versions.save();
  }

  /** The pools that serve (loading placeholders left out), for the scaler and the ceiling. */
  serving(): FunctionPool[] {
    return this.pools().filter((pool) => pool.state !== 'loading');
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
    if (isPlaceholder(current)) return { status: 'loading' };
    const refused = this.#refused.get(name);
    const info: Partial<VersionInfo> & { lastError?: string } = {};
    if (current) {
      info.version = current.version;
      info.sha256 = current.sha256;
      info.deployedAt = current.deployedAt;
    }
    if (refused) info.lastError = refused.error;
    return info;
  }

  /**
   * Deploy a source as `name`; resolves with whether the name is new, or `unchanged` when that
   * source serves already (no new version).
   */
  deploy(name: string, text: string, language: SourceLanguage): Promise<Landed> {
    if (!this.#copies.writable) return Promise.reject(deployUnsupported());
    if (this.#draining) return Promise.reject(draining());
    return this.#serial(name, async () => {
      const sha256 = await sha256Hex(text);
      const current = this.#current.get(name);
      if (
        current &&
        !isPlaceholder(current) &&
        current.pool.status === 'ready' &&
        current.sha256 === sha256 &&
        current.language === language
      ) {
        // Asked for what serves: whatever was refused before is no longer the last word.
        this.#refused.delete(name);
        return { created: false, unchanged: true };
      }
      const created = !current;
      await this.#land(name, text, language, sha256, { created });
      await this.#keepSource(name, text, language);
      await this.#versions.save();
      return { created };
    });
  }

  /**
   * Serve kept version `version` of `name` again (by default the newest kept one older than the
   * one serving): loaded and checked as a deploy, written into place, under its own number.
   */
  async rollback(name: string, version?: number): Promise<Landed & { version: number }> {
    if (!this.#copies.writable) throw deployUnsupported();
    if (this.#draining) throw draining();
    // A function still loading from start is numbered first.
    await this.#loaded;
    return this.#serial(name, async () => {
      const current = this.#current.get(name);
      if (!current || isPlaceholder(current)) throw unknownFunction(name);
      const kept = this.#versions.kept(name);
      const target =
        version ?? kept.find((k) => k.version < current.version && k.version > 0)?.version;
      if (target === undefined) throw noPreviousVersion(name, current.version);
      if (target === current.version && current.pool.status === 'ready') {
        return { created: false, unchanged: true, version: target };
      }
      const known = this.#versions.keptVersion(name, target);
      const saved = known && (await this.#source.keptSource?.(name, target));
      if (!known || !saved) {
        throw unknownVersion(
          name,
          target,
          kept.map((k) => k.version),
        );
      }
      await this.#land(name, saved.text, saved.language, known.sha256, {
        created: false,
        version: target,
      });
      this.#versions.keep(name, { ...known, deployedAt: this.#current.get(name)?.deployedAt ?? 0 });
      await this.#versions.save();
      return { created: false, version: target };
    });
  }

  /** The kept versions of `name`, newest first, the one serving marked (and listed always). */
  versions(name: string): FunctionVersions {
    const current = this.#current.get(name);
    if (!current) throw unknownFunction(name);
    const serving = isPlaceholder(current) ? this.#versions.last(name) : current.version;
    const kept: KeptVersion[] = this.#versions.kept(name);
    if (!isPlaceholder(current) && !kept.some((k) => k.version === serving)) {
      kept.push({
        version: serving,
        sha256: current.sha256,
        deployedAt: current.deployedAt,
        bytes: 0,
        language: current.language,
      });
    }
    return {
      name,
      version: serving,
      versions: kept
        .sort((a, b) => b.version - a.version)
        .map((k) => ({ ...k, serving: k.version === serving })),
    };
  }

  /**
   * Load `text` as the next version of `name` (or as kept version `version`, a rollback), write
   * it into place, and make it serve. Throws `invalid_function` with the loader's message.
   */
  async #land(
    name: string,
    text: string,
    language: SourceLanguage,
    sha256: string,
    { created, version }: { created: boolean; version?: number },
  ): Promise<void> {
    let staged: StagedSource;
    try {
      staged = await this.#copies.stage(name, text, language);
    } catch (error) {
      throw deployUnsupported(`the functions folder cannot be written: ${messageOf(error)}`);
    }
    let pool: FunctionPool;
    try {
      pool = await this.#factory.load(staged.entry);
    } catch (error) {
      await staged.discard();
      // Named as the file it would have become, not ebbflow's copy.
      const why = asModule(messageOf(error), staged.entry, `${name}.${language}`);
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
    if (version !== undefined) pool.version = version;
    else if (!created) this.#number(name, pool, sha256);
    if (!created) await pool.prewarm();
    this.#install(name, pool, sha256, language, staged);
  }

  /** Keep the source of the version of `name` serving now, for rollback; dropping the oldest. */
  async #keepSource(name: string, text: string, language: SourceLanguage): Promise<void> {
    const current = this.#current.get(name);
    const keep = this.#source.keepSource;
    if (!current || isPlaceholder(current) || !keep) return;
    const { version, sha256, deployedAt } = current;
    if (this.#versions.keptVersion(name, version)?.sha256 === sha256) return;
    try {
      await keep(name, version, text, language);
    } catch (error) {
      this.#warn(`${name}: version ${version} cannot be kept for rollback: ${messageOf(error)}`);
      return;
    }
    const bytes = new TextEncoder().encode(text).length;
    const dropped = this.#versions.keep(name, { version, sha256, deployedAt, bytes, language });
    for (const old of dropped) await this.#source.dropSource?.(name, old).catch(() => {});
  }

  /** Delete `name` and its file; resolves with the version it had. */
  remove(name: string): Promise<VersionInfo> {
    return this.#serial(name, async () => {
      const current = this.#current.get(name);
      if (!current) throw unknownFunction(name);
      await this.#source.remove?.(name);
      this.#drop(name, current);
      await this.#versions.save();
      return { version: current.version, sha256: current.sha256, deployedAt: current.deployedAt };
    });
  }

  /** The runtime drains: deploys are refused and hand edits no longer picked up. */
  drain(): void {
    this.#draining = true;
    this.#hotReload.stop();
  }

  /** Stop watching and marking copies; the pools are closed by the runtime. */
  close(): void {
    this.#closed = true;
    this.#hotReload.stop();
    this.#copies.close();
  }

  /** Delete every version's copy (once the pools are closed). */
  async dispose(): Promise<void> {
    await this.#copies.dispose();
  }

  /** Load the module at `entry` when its source differs from what serves (start, hand edits). */
  async #reload(entry: FunctionEntry): Promise<void> {
    const { name } = entry;
    let text: string | undefined;
    try {
      text = await this.#source.read?.(entry);
    } catch {
      return; // gone between the listing and now: the next scan sees it
    }
    const sha256 = text === undefined ? '' : await sha256Hex(text);
    const found = this.#current.get(name);
    const placeholder = isPlaceholder(found);
    // A placeholder is no version: the module loads whatever its hash.
    const current = placeholder ? undefined : found;
    if (current && current.sha256 === sha256) return;
    if (this.#refused.get(name)?.sha256 === sha256 && sha256 !== '') return;
    // A hand edit after this is picked up as the next version. Where workers import the file as
    // they start, this version loads a copy of the text just read: what a later edit or deploy
    // writes over the file never runs under this version's number.
    const staged = text === undefined ? undefined : await this.#copies.snapshot(entry, text);
    try {
      const pool = await this.#factory.load(staged?.entry ?? entry);
      if (this.#closed) {
        await pool.close('the runtime shut down');
        await staged?.discard();
        return;
      }
      if (current) {
        this.#number(name, pool, sha256);
        await pool.prewarm();
      }
      this.#install(name, pool, sha256, languageOf(entry.url), staged);
      if (text !== undefined) await this.#keepSource(name, text, languageOf(entry.url));
      // Found at start goes without saying; a file added or changed later is logged.
      if (!placeholder) {
        const what = current ? 'reload' : 'add';
        this.#log(
          `ebbflow: ${what} ${name} version=${this.#current.get(name)?.version} sha256=${sha256} via=folder`,
        );
      }
    } catch (error) {
      await staged?.discard();
      // The loader names the file it read: the one the person edited, not ebbflow's copy.
      const why = staged
        ? asModule(messageOf(error), staged.entry, fileName(entry.url))
        : messageOf(error);
      this.#refused.set(name, { error: why, sha256 });
      if (current) {
        this.#log(
          `${name}: the edit was not loaded (version ${current.version} still serves): ${why}`,
        );
        return;
      }
      // Nothing serves this name yet: it is listed as unavailable, with the loader's message.
      this.#install(
        name,
        this.#factory.unavailable(entry, why),
        sha256,
        languageOf(entry.url),
        undefined,
      );
      this.#refused.delete(name);
    }
  }

  /** `name` is no longer in the source: delete it (hot reload), unless it came back meanwhile. */
  async #unlisted(name: string): Promise<void> {
    const current = this.#current.get(name);
    // Gone from the folder by hand (a deploy in between would have brought it back).
    const still = await this.#source.list().catch(() => undefined);
    if (!current || still?.entries.some((e) => e.name === name)) return;
    this.#drop(name, current);
    this.#log(`ebbflow: delete ${name} version=${current.version} via=folder`);
  }

  /**
   * Number `pool` as the next version of `name` (the one it had, for a source found unchanged at
   * start), before its warm workers start: every run it ends carries that number.
   */
  #number(name: string, pool: FunctionPool, sha256: string): VersionInfo {
    const found = this.#current.get(name);
    const info = this.#versions.next(name, sha256, isPlaceholder(found) ? undefined : found);
    pool.version = info.version;
    return info;
  }

  /** Make `pool` the current version of `name`; the one before ends. */
  #install(
    name: string,
    pool: FunctionPool,
    sha256: string,
    language: SourceLanguage,
    staged?: StagedSource,
  ): void {
    const previous = this.#current.get(name);
    const { version, deployedAt } =
      pool.version === undefined
        ? this.#number(name, pool, sha256)
        : { version: pool.version, deployedAt: this.#clock.now() };
    const next: Current = { pool, version, sha256, deployedAt, language, staged };
    this.#current.set(name, next);
    this.#versions.record(name, next);
    if (staged) this.#copies.track(staged);
    if (pool.status === 'ready') this.#refused.delete(name);
    if (isPlaceholder(previous)) this.#settle(name);
    if (previous) {
      // Counters stay with the name, so /stats does not restart at each deploy.
      pool.counters.carryOver(previous.pool.counters);
      this.#ending.add(previous);
      // What waits in the backend is claimed by the new version from now on.
      previous.pool.end({
        claims: () => false,
        successor: pool,
        gone: () => this.#forget(previous),
      });
    }
    pool.available();
    this.#ceiling.warm();
  }

  #drop(name: string, current: Current): void {
    const placeholder = isPlaceholder(current);
    this.#current.delete(name);
    this.#refused.delete(name);
    this.#versions.deleted(name);
    this.#ending.add(current);
    // Tasks it accepted still run here, unless another version of the name comes first.
    current.pool.end({
      claims: () => !this.#current.has(name),
      gone: () => this.#forget(current),
    });
    // Deleted before it loaded: nothing will ever run what waits for it.
    if (placeholder) {
      this.#settle(name);
      void current.pool.failWaiting(
        'function_deleted',
        `function "${name}" was deleted before it loaded`,
      );
    }
    this.#ceiling.warm();
  }

  /** An ended version's last worker is gone: forget it, and delete its copy. */
  #forget(ending: Current): void {
    if (!this.#ending.delete(ending)) return;
    if (ending.staged) void this.#copies.discard(ending.staged);
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

  #warn(warning: string): void {
    if (this.#warned.has(warning)) return;
    this.#warned.add(warning);
    this.#log(warning);
  }
}

/** The last segment of a URL's path. */
const fileName = (url: string): string => url.slice(url.lastIndexOf('/') + 1);

/** The language of a module by its file's extension (`.mjs` is JavaScript). */
const languageOf = (url: string): SourceLanguage => (/\.m?tsx?$/.test(url) ? 'ts' : 'js');

/**
 * A loader's message about a version's copy, naming the module it stands for instead: its URL,
 * its path, then its file name (as `shown`).
 */
const asModule = (message: string, copy: FunctionEntry, shown: string): string => {
  let out = message;
  if (copy.home) {
    out = out.replaceAll(copy.url, copy.home);
    if (copy.url.startsWith('file:')) out = out.replaceAll(pathOf(copy.url), pathOf(copy.home));
  }
  return out.replaceAll(fileName(copy.url), shown);
};

/** A `file:` URL's path (POSIX), as loaders print it. */
const pathOf = (url: string): string => decodeURIComponent(new URL(url).pathname);
