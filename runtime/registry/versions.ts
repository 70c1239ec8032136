/**
 * Version numbers and the versions file that keeps them across restarts (the source's state):
 * numbers only grow, a source found unchanged at start keeps its number and deploy time, and a
 * name deleted (or removed while the server was down) goes on from its last number.
 * @module
 */

import { messageOf } from '../errors.ts';
import type { Clock } from '../time/clock.ts';
import type { FunctionSource } from '../worker-host.ts';

/** What a version is, beside its pool. */
export interface VersionInfo {
  version: number;
  sha256: string;
  deployedAt: number;
}

/** What the file keeps per name: the last version, so numbers only grow. */
interface SavedVersion extends VersionInfo {
  deleted?: boolean;
}

export class Versions {
  #source: FunctionSource;
  #clock: Clock;
  #log: (message: string) => void;
  #saved = new Map<string, SavedVersion>();
  /** The file as last read or written: unchanged state is not written again. */
  #savedText: string | undefined;

  constructor(source: FunctionSource, clock: Clock, log: (message: string) => void) {
    this.#source = source;
    this.#clock = clock;
    this.#log = log;
  }

  /** Read the file (at start). */
  async load(): Promise<void> {
    const text = await this.#source.loadState?.();
    this.#savedText = text;
    if (text) this.#restore(text);
  }

  /** The source lists only `present`: the other names were removed while the server was down. */
  listed(present: ReadonlySet<string>): void {
    for (const name of this.#saved.keys()) if (!present.has(name)) this.deleted(name);
  }

  /** The last number `name` had (0 for none): what a placeholder stands as until it loads. */
  last(name: string): number {
    return this.#saved.get(name)?.version ?? 0;
  }

  /**
   * The version a source of `name` with this hash loads as: the next number after the last one
   * (and after `serving`, the version that serves now), or, found unchanged at start (nothing
   * serving), the number and deploy time it had.
   */
  next(name: string, sha256: string, serving: VersionInfo | undefined): VersionInfo {
    const saved = this.#saved.get(name);
    if (saved && !saved.deleted && saved.sha256 === sha256 && !serving) {
      return { version: saved.version, sha256, deployedAt: saved.deployedAt };
    }
    const version = Math.max(saved?.version ?? 0, serving?.version ?? 0) + 1;
    return { version, sha256, deployedAt: this.#clock.now() };
  }

  /** `name` serves as `info` now. */
  record(name: string, { version, sha256, deployedAt }: VersionInfo): void {
    this.#saved.set(name, { version, sha256, deployedAt });
  }

  /** `name` was deleted: a later deploy of it is a new version. */
  deleted(name: string): void {
    const saved = this.#saved.get(name);
    if (saved) this.#saved.set(name, { ...saved, deleted: true });
  }

  /** Write the file if it changed; a failure is logged (numbers then restart at a restart). */
  async save(): Promise<void> {
    const save = this.#source.saveState;
    if (!save) return;
    const functions = Object.fromEntries([...this.#saved].sort(([a], [b]) => a.localeCompare(b)));
    const text = `${JSON.stringify({ functions }, null, 2)}\n`;
    if (text === this.#savedText) return;
    try {
      await save(text);
      this.#savedText = text;
    } catch (error) {
      this.#log(
        `the versions file cannot be written (versions restart at a restart): ${messageOf(error)}`,
      );
    }
  }

  #restore(text: string): void {
    try {
      const state = JSON.parse(text) as { functions?: Record<string, SavedVersion> };
      for (const [name, saved] of Object.entries(state.functions ?? {})) {
        if (Number.isSafeInteger(saved.version)) this.#saved.set(name, saved);
      }
    } catch (error) {
      this.#log(`the versions file is unreadable, versions start again at 1: ${messageOf(error)}`);
    }
  }
}
