/**
 * The hidden per-version copies of a function's source. A deploy is written as one (checked where
 * it will live before it replaces anything); and where workers import the module file as they
 * start (Deno, Bun), every version loads from a copy of the text it was read from, so an edit or
 * deploy that lands later never runs under an earlier version's number. Copies a gone process left
 * are swept at start; live ones are marked in use every `KEEP_STAGED_MS` (servers may share a
 * folder) and deleted once their version has ended.
 * @module
 */

import { messageOf } from '../errors.ts';
import type { Clock, TimerId } from '../time/clock.ts';
import { unrefTimer } from '../time/timers.ts';
import {
  type FunctionEntry,
  type FunctionSource,
  KEEP_STAGED_MS,
  type SourceLanguage,
  type StagedSource,
} from '../worker-host.ts';

export interface StagedCopiesDeps {
  source: FunctionSource;
  clock: Clock;
  /** Whether every version loads from a copy (the host's workers import the file as they start). */
  perVersion: boolean;
  /** Where a notice goes (once per distinct line). */
  warn(message: string): void;
}

export class StagedCopies {
  #d: StagedCopiesDeps;
  /** Copies of versions that serve or still finish their tasks. */
  #live = new Set<StagedSource>();
  #keeping: TimerId | undefined;
  #closed = false;

  constructor(deps: StagedCopiesDeps) {
    this.#d = deps;
  }

  /** Whether the source can take deploys (write a copy beside the functions). */
  get writable(): boolean {
    return this.#d.source.stage !== undefined;
  }

  /** Delete what a gone process left, then mark live copies in use until `close`. */
  async start(): Promise<void> {
    await this.#d.source.sweep?.().catch(() => {});
    this.#keep();
  }

  /** Write a deployed source as a hidden copy beside the functions; throws the source's error. */
  stage(name: string, text: string, language: SourceLanguage): Promise<StagedSource> {
    const stage = this.#d.source.stage;
    if (!stage) return Promise.reject(new Error('the source cannot be written'));
    return stage(name, text, language);
  }

  /**
   * A copy of `text` for a version's workers to load, where each version needs one and the source
   * can write it; otherwise (a read-only folder) the version loads the file itself.
   */
  async snapshot(entry: FunctionEntry, text: string): Promise<StagedSource | undefined> {
    const { source, perVersion } = this.#d;
    if (!perVersion || !source.stage) return undefined;
    const language: SourceLanguage = entry.url.endsWith('.ts') ? 'ts' : 'js';
    try {
      return await source.stage(entry.name, text, language);
    } catch (error) {
      this.#d.warn(
        `${entry.name}: no copy of the source could be written beside it (${messageOf(error)}); its workers load the file itself, so an edit reaches workers started after it`,
      );
      return undefined;
    }
  }

  /** `copy` now belongs to a version that serves: it is marked in use until it is discarded. */
  track(copy: StagedSource): void {
    this.#live.add(copy);
  }

  /** Delete `copy` (its check failed, or its version has ended). */
  async discard(copy: StagedSource): Promise<void> {
    this.#live.delete(copy);
    await copy.discard();
  }

  /** Stop marking copies in use. */
  close(): void {
    this.#closed = true;
    this.#d.clock.clearTimeout(this.#keeping);
  }

  /** Delete every live copy (once the pools are closed). */
  async dispose(): Promise<void> {
    const live = [...this.#live];
    this.#live.clear();
    await Promise.allSettled(live.map((copy) => copy.discard()));
  }

  #keep(): void {
    const { clock } = this.#d;
    const schedule = () => {
      this.#keeping = clock.setTimeout(tick, KEEP_STAGED_MS);
      unrefTimer(this.#keeping);
    };
    const tick = () => {
      if (this.#closed) return;
      for (const copy of this.#live) void copy.keep?.();
      schedule();
    };
    schedule();
  }
}
