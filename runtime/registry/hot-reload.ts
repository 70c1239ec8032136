/**
 * Hot reload: watch the source, and on each change compare what it lists with what serves. Each
 * listed function is handed to the registry to load if its source changed (a new version, or a
 * refusal while the old one serves on); each one no longer listed, to delete.
 * @module
 */

import { messageOf } from '../errors.ts';
import type { FunctionEntry, FunctionSource } from '../worker-host.ts';

/** What hot reload asks of the registry; each call runs after the name's earlier jobs. */
export interface Reloadable {
  /** The names that serve now. */
  names(): Iterable<string>;
  /** Load `entry` as the next version of its function if its source changed. */
  reload(entry: FunctionEntry): Promise<void>;
  /** `name` is no longer listed: delete it, unless it is back by the time its turn comes. */
  unlisted(name: string): Promise<void>;
  /** A scan is over: keep what it changed (the versions file). */
  scanned(): Promise<void>;
}

export interface HotReloadDeps {
  source: FunctionSource;
  target: Reloadable;
  log(message: string): void;
  /** Where the listing's warnings go (once per distinct line). */
  warn(message: string): void;
}

export class HotReload {
  #d: HotReloadDeps;
  #unwatch: (() => void) | undefined;
  #stopped = false;

  constructor(deps: HotReloadDeps) {
    this.#d = deps;
  }

  /** Watch the source, if it can be watched. */
  start(): void {
    const { source } = this.#d;
    if (!source.watch || this.#unwatch || this.#stopped) return;
    try {
      this.#unwatch = source.watch(() => void this.rescan());
    } catch (error) {
      this.#d.log(`hot reload is off: the functions folder cannot be watched: ${messageOf(error)}`);
    }
  }

  /** Stop watching (the runtime drains or closes): no scan starts after this. */
  stop(): void {
    this.#stopped = true;
    this.#unwatch?.();
    this.#unwatch = undefined;
  }

  /** Compare the source with what serves, and load what came, changed or went. */
  async rescan(): Promise<void> {
    if (this.#stopped) return;
    const { source, target } = this.#d;
    let listing: Awaited<ReturnType<FunctionSource['list']>>;
    try {
      listing = await source.list();
    } catch (error) {
      this.#d.log(`hot reload: cannot list the functions: ${messageOf(error)}`);
      return;
    }
    for (const warning of listing.warnings) this.#d.warn(warning);
    const seen = new Set(listing.entries.map((e) => e.name));
    const jobs = listing.entries.map((entry) => target.reload(entry));
    for (const name of target.names()) if (!seen.has(name)) jobs.push(target.unlisted(name));
    await Promise.allSettled(jobs);
    await target.scanned();
  }
}
