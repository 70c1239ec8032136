/**
 * The pool's view of the task backend: claim what waits, report how it ended, count what is
 * queued. A backend that answers synchronously (the in-memory one's `…Now` twins) is used
 * directly, so the hot path costs no promise per batch; any other `TaskBackend` through its
 * async methods, with failures logged (a lost `finish` is found by the backend's own expiry).
 * @module
 */
import type { TaskBackend } from '../backend/contract.ts';
import { messageOf } from '../errors.ts';
import type { Clock } from '../time/clock.ts';
import type { ClaimedTask, FailureCode, TaskEnding } from '../types.ts';

export interface TaskSource {
  /** Other servers claim from the same queue (`TaskBackend.shared`). */
  readonly shared: boolean;
  /** Records outlive the process (`TaskBackend.durable`): a shutdown leaves queued tasks. */
  readonly durable: boolean;
  claim(fn: string, max: number, workerId: number): ClaimedTask[] | Promise<ClaimedTask[]>;
  /** Record how a run ended; `dropped` is called if the backend says it dropped the ending. */
  finish(id: string, ending: TaskEnding, dropped?: () => void): void;
  /** Tasks a claim would take now (backing-off retries not counted, where the backend can tell). */
  claimable(fn: string): number;
  /** Tasks waiting to run, backing-off retries included (429s, drain). */
  queued(fn: string): number;
  /** Fail what waits for `fn`; resolves with how many tasks it failed. */
  failQueued(fn: string, error: string, code: FailureCode): Promise<number>;
}

/** The synchronous twins an in-process backend may offer (the in-memory one does). */
interface SyncTwins {
  claimNow(fn: string, max: number, workerId: number): ClaimedTask[];
  finishNow(id: string, ending: TaskEnding): void;
  claimable(fn: string): number;
  failQueued(fn: string, error: string, code: FailureCode): number;
}

const hasTwins = (backend: TaskBackend): backend is TaskBackend & SyncTwins => {
  const b = backend as Partial<SyncTwins>;
  return (
    typeof b.claimNow === 'function' &&
    typeof b.finishNow === 'function' &&
    typeof b.claimable === 'function' &&
    typeof b.failQueued === 'function'
  );
};

export const taskSource = (
  backend: TaskBackend,
  log: (message: string) => void,
  clock: Clock,
): TaskSource => {
  if (hasTwins(backend)) {
    return {
      shared: backend.shared === true,
      durable: backend.durable === true,
      claim: (fn, max, workerId) => backend.claimNow(fn, max, workerId),
      finish: (id, ending) => backend.finishNow(id, ending),
      claimable: (fn) => backend.claimable(fn),
      queued: (fn) => backend.queued(fn),
      failQueued: async (fn, error, code) => backend.failQueued(fn, error, code),
    };
  }
  const failed = (what: string) => (error: unknown) =>
    log(`the task backend failed to ${what}: ${messageOf(error)}`);
  return {
    shared: backend.shared === true,
    durable: backend.durable === true,
    claim: (fn, max, workerId) =>
      backend.claim(fn, max, workerId).catch((error: unknown) => {
        failed('hand out tasks')(error);
        return [];
      }),
    finish: (id, ending, dropped) => {
      backend.finish(id, ending).then(
        (taken) => {
          // Cancelled meanwhile (an async store learns of the cancel after the run ended here).
          if (taken === false) dropped?.();
        },
        failed(`record how task ${id} ended`),
      );
    },
    claimable: backend.claimable
      ? (fn) => (backend.claimable as (fn: string) => number)(fn)
      : (fn) => backend.queued(fn),
    queued: (fn) => backend.queued(fn),
    // Claim what can be claimed and fail it: any backend can do that much.
    async failQueued(fn, error, code) {
      for (let failed = 0; ; ) {
        const batch = await backend.claim(fn, 100, 0);
        if (batch.length === 0) return failed;
        failed += batch.length;
        const endedAt = clock.now();
        await Promise.all(
          batch.map((t) =>
            backend.finish(t.id, { status: 'failed', error, errorCode: code, endedAt }),
          ),
        );
      }
    },
  };
};
