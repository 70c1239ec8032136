/**
 * Version numbers, the versions kept for rollback, and the versions file that keeps both across
 * restarts (the source's state): numbers only grow, a source found unchanged at start keeps its
 * number and deploy time, a name deleted (or removed while the server was down) goes on from its
 * highest number, and each name keeps its newest `keep` versions (the one serving always).
 * @module
 */

import { messageOf } from '../errors.ts';
import type { Clock } from '../time/clock.ts';
import type { FunctionVersion } from '../types.ts';
import type { FunctionSource, SourceLanguage } from '../worker-host.ts';

/** What a version is, beside its pool. */
export interface VersionInfo {
  version: number;
  sha256: string;
  deployedAt: number;
}

/** A version whose source is kept (its text is the source's, by name and number). */
export type KeptVersion = Omit<FunctionVersion, 'serving'>;

/** What the file keeps per name. */
interface SavedVersion extends VersionInfo {
  deleted?: boolean;
  /** The highest number the name ever had (a rollback serves a lower one). */
  highest?: number;
  /** Versions whose source is kept, newest first. */
  kept?: KeptVersion[];
}

export class Versions {
  #source: FunctionSource;
  #clock: Clock;
  #log: (message: string) => void;
  #keep: number;
  #saved = new Map<string, SavedVersion>();
  /** The file as last read or written: unchanged state is not written again. */
  #savedText: string | undefined;

  constructor(source: FunctionSource, clock: Clock, log: (message: string) => void, keep: number) {
    this.#source = source;
    this.#clock = clock;
    this.#log = log;
    this.#keep = keep;
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
   * The version a source of `name` with this hash loads as: the next number after the highest
   * (and after `serving`, the version that serves now), or, found unchanged at start (nothing
   * serving), the number and deploy time it had.
   */
  next(name: string, sha256: string, serving: VersionInfo | undefined): VersionInfo {
    const saved = this.#saved.get(name);
    if (saved && !saved.deleted && saved.sha256 === sha256 && !serving) {
      return { version: saved.version, sha256, deployedAt: saved.deployedAt };
    }
    const highest = Math.max(saved?.highest ?? 0, saved?.version ?? 0, serving?.version ?? 0);
    return { version: highest + 1, sha256, deployedAt: this.#clock.now() };
  }

  /** `name` serves as `info` now. */
  record(name: string, { version, sha256, deployedAt }: VersionInfo): void {
    const saved = this.#saved.get(name);
    const highest = Math.max(saved?.highest ?? 0, saved?.version ?? 0, version);
    const next: SavedVersion = { version, sha256, deployedAt, highest };
    if (saved?.kept) next.kept = saved.kept;
    this.#saved.set(name, next);
  }

  /** `name` was deleted: a later deploy of it is a new version; its kept versions stay. */
  deleted(name: string): void {
    const saved = this.#saved.get(name);
    if (saved) this.#saved.set(name, { ...saved, deleted: true });
  }

  /** The versions of `name` whose source is kept, newest first. */
  kept(name: string): KeptVersion[] {
    return [...(this.#saved.get(name)?.kept ?? [])];
  }

  /** A kept version of `name`, or undefined. */
  keptVersion(name: string, version: number): KeptVersion | undefined {
    return this.#saved.get(name)?.kept?.find((k) => k.version === version);
  }

  /**
   * `version` of `name` is kept (or made to serve again: its deploy time moves). Returns the
   * versions that fall out of the newest `keep` (never the one serving): their sources go.
   */
  keep(name: string, kept: KeptVersion): number[] {
    const saved = this.#saved.get(name);
    if (!saved) return [];
    const others = (saved.kept ?? []).filter((k) => k.version !== kept.version);
    const all = [...others, kept].sort((a, b) => b.version - a.version);
    const stay = all.filter((k, i) => i < this.#keep || k.version === saved.version);
    saved.kept = stay;
    return all.filter((k) => !stay.includes(k)).map((k) => k.version);
  }

  /** Forget that `version` of `name` is kept (its source is gone). */
  forget(name: string, version: number): void {
    const saved = this.#saved.get(name);
    if (saved?.kept) saved.kept = saved.kept.filter((k) => k.version !== version);
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
        if (!Number.isSafeInteger(saved.version)) continue;
        const kept = Array.isArray(saved.kept) ? saved.kept.filter(isKept) : undefined;
        this.#saved.set(name, kept ? { ...saved, kept } : { ...saved, kept: undefined });
      }
    } catch (error) {
      this.#log(`the versions file is unreadable, versions start again at 1: ${messageOf(error)}`);
    }
  }
}

const LANGUAGES: readonly SourceLanguage[] = ['ts', 'js'];

const isKept = (value: unknown): value is KeptVersion => {
  const k = value as Partial<KeptVersion> | null;
  return (
    typeof k === 'object' &&
    k !== null &&
    Number.isSafeInteger(k.version) &&
    typeof k.sha256 === 'string' &&
    typeof k.deployedAt === 'number' &&
    typeof k.bytes === 'number' &&
    LANGUAGES.includes(k.language as SourceLanguage)
  );
};
