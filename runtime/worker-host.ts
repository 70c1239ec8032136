/**
 * The seams between the portable core and a host (Node, Deno, Bun, workerd): where function
 * modules come from, how a worker is spawned, and what the machine can tell about itself.
 * @module
 */
import type { Endpoint } from 'comlink';
import type { FunctionPermissions } from './types.ts';

/** One function module found by a source. */
export interface FunctionEntry {
  name: string;
  /** The module's URL (`file:` on hosts with a file system). */
  url: string;
  /**
   * For a copy of a module kept apart from its folder (a version's own text): the URL of the
   * module file it stands for. Its relative imports and `import.meta.url` name that place, and
   * its grants are relative to that folder.
   */
  home?: string;
}

export interface FunctionListing {
  entries: FunctionEntry[];
  /** Files passed over, each with the reason, for the server to print. */
  warnings: string[];
}

/** The language of a deployed source, which decides its file extension. */
export type SourceLanguage = 'ts' | 'js';

/**
 * A version's own copy of a source, kept apart from the functions (its relative imports still
 * reach the files beside the module), so it can be loaded and checked before it replaces
 * anything, and so a later edit of the module never reaches this version's workers.
 */
export interface StagedSource {
  /** The copy's entry (its `name` is the function's name, its `home` the module's file). */
  entry: FunctionEntry;
  /**
   * Write the source into place as `<name>.<ext>` (atomically), removing the name's other
   * extensions. The copy stays: it is what this version's workers load, until `discard`.
   */
  commit(): Promise<FunctionEntry>;
  /** Delete the copy (the check failed, or the version has ended). */
  discard(): Promise<void>;
  /**
   * Mark the copy as still in use (its modification time), so another server's `sweep` of a
   * shared folder leaves it. Called every `KEEP_STAGED_MS` while its version lives.
   */
  keep?(): Promise<void>;
}

/** How often a live server marks its copies as in use. */
export const KEEP_STAGED_MS = 5 * 60_000;
/** A copy nobody marked for this long was left by a process that is gone. */
export const STAGED_STALE_MS = 3 * KEEP_STAGED_MS;

/**
 * Where function modules come from: a folder on disk, or a registry generated at build time.
 * Only `list` is required; a source that can also be written (a folder) lets functions be
 * deployed, removed and hot-reloaded, and keeps the registry's small state across restarts.
 */
export interface FunctionSource {
  list(): Promise<FunctionListing>;
  /** The module's source text (its SHA-256 is the function's `sha256`). */
  read?(entry: FunctionEntry): Promise<string>;
  /** Write a version's copy of a source, to be checked, then committed into place. */
  stage?(name: string, source: string, language: SourceLanguage): Promise<StagedSource>;
  /** Delete every module file of `name`; resolves whether there was one. */
  remove?(name: string): Promise<boolean>;
  /**
   * Call `changed` (debounced) when files come, change or go; an editor's save by rename
   * included. Returns the function that stops watching.
   */
  watch?(changed: () => void): () => void;
  /**
   * Delete what staging left behind when an earlier process ended without closing: copies no
   * server marked in use for `STAGED_STALE_MS` (servers may share a folder).
   */
  sweep?(): Promise<void>;
  /** The registry's state (versions) as last saved, or undefined when there is none. */
  loadState?(): Promise<string | undefined>;
  /** Save the registry's state atomically. */
  saveState?(text: string): Promise<void>;
  /** Keep the source of version `version` of `name`, for rollback (written atomically). */
  keepSource?(name: string, version: number, text: string, language: SourceLanguage): Promise<void>;
  /** A kept source, or undefined when none is kept for that version. */
  keptSource?(name: string, version: number): Promise<KeptSource | undefined>;
  /** Forget a kept source (it fell out of the versions kept). */
  dropSource?(name: string, version: number): Promise<void>;
}

/** A version's source as `keepSource` kept it. */
export interface KeptSource {
  text: string;
  language: SourceLanguage;
}

/** A function made ready to run in workers (bundled, checked); opaque to the core. */
export interface PreparedFunction {
  entry: FunctionEntry;
}

export interface SpawnOptions {
  workerId: number;
  /** Heap limit for the worker in MiB, where the host can enforce one. */
  memoryLimitMb: number;
  /** The function's grants (`config.permissions`); unset while its config is being read. */
  permissions?: FunctionPermissions;
}

/** How a worker ended, for programs: `out_of_memory` where the host can tell, else `worker_exited`. */
export type ExitKind = 'worker_exited' | 'out_of_memory';

/** A live worker as the pool sees it. */
export interface SpawnedWorker {
  /** The comlink endpoint the pool talks to. */
  endpoint: Endpoint;
  /**
   * Registers the one listener told when the worker is gone, with a cause a person can read
   * ("the worker exited with code 3"). Hosts that get no signal never call it; the pool's
   * deadlines cover them.
   */
  onExit(listener: (cause: string, kind?: ExitKind) => void): void;
  /** Stop the worker; resolves once it can run no more code. */
  terminate(): Promise<void>;
  /**
   * Told by the pool whether the worker has tasks in flight. Hosts that ping workers to find
   * silent deaths (Deno, Bun) ping only idle ones: a busy worker cannot answer, and its tasks'
   * timeouts cover it.
   */
  setIdle?(idle: boolean): void;
  /**
   * Milliseconds its event loop has been busy since it started (Node: the worker's
   * `performance.eventLoopUtilization().active`). Optional: where a host cannot measure it, the
   * scaler falls back to the process's CPU use to tell CPU-bound pools.
   */
  busyTimeMs?(): number;
}

/** What a host can read about the process's use of the machine; every field optional. */
export interface HostSample {
  /** CPU time the process (all its threads) used so far, user + system, in ms. */
  cpuTimeMs?: number;
  /** Bytes the process holds now (resident set). */
  memoryBytes?: number;
  /** Bytes the process may hold: a container limit, else the machine's memory. */
  memoryLimitBytes?: number;
  /** Bytes the machine still has available. */
  systemFreeBytes?: number;
}

/** What a host supplies to the core. */
export interface WorkerHost {
  readonly name: 'node' | 'deno' | 'bun' | 'workerd' | 'browser' | 'in-process';
  /**
   * Whether each worker imports the module from its file as it starts (Deno, Bun: nothing is
   * bundled). The registry then gives every version a copy of its own source to load, so an edit
   * or deploy that lands later never reaches a worker that version starts.
   */
  readonly importsAtSpawn?: boolean;
  /** Bundle or check a function module; throws with the loader's message when it cannot load. */
  prepare(entry: FunctionEntry): Promise<PreparedFunction>;
  spawn(prepared: PreparedFunction, options: SpawnOptions): SpawnedWorker;
  /**
   * Why this host will never grant a function of `entry` these `permissions` (the server's own
   * variables, its state files, other functions' files), or undefined when it may. A refused
   * function does not load: its config is invalid, with this reason.
   */
  refuses?(entry: FunctionEntry, permissions: FunctionPermissions): string | undefined;
  /** Logical cores this process may use. */
  hardwareConcurrency(): number;
  /** Read the process's CPU time and memory (optional: without it the scaler uses lag alone). */
  sample?(): HostSample;
  /** Remove what `prepare` left behind (temporary bundles). */
  dispose?(): Promise<void>;
}
