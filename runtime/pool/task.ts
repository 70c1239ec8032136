/**
 * One run of a task on this server, as the pool sees it: claimed from the backend (or an
 * ephemeral call that has no record), handed to a worker, and ended exactly once. Its state
 * changes only through its methods; the first ending wins and later ones are ignored. The
 * record callers read lives in the backend, which `finish` is told the `ending`.
 * @module
 */
import type { ClaimedTask, FailureCode, RunEnding, TaskLog } from '../types.ts';
import type { WireRequest } from '../worker/protocol.ts';

const NO_ARGS: unknown[] = [];

export type RunStatus = 'queued' | 'running' | 'completed' | 'failed' | 'cancelled';

export type { RunEnding };

/** When it began inside the worker and how long it ran, as far as known. */
export interface RunTimes {
  startedAt?: number;
  executionTime?: number;
  /** What the function printed during the run. */
  logs?: TaskLog[];
}

export class Task {
  #status: RunStatus = 'queued';
  #startedAt?: number;
  #workerId?: number;
  #args: unknown[];
  #ending?: RunEnding;
  /** Set for an ephemeral run (no backend record): told its ending instead of the backend. */
  readonly #onEnd?: (ending: RunEnding) => void;

  readonly id: string;
  readonly fn: string;
  readonly timeoutMs: number;
  readonly attempt: number;
  readonly submittedAt: number;
  /** For an HTTP-handler call: the request for the module's `fetch` (runtime/pool/handler.ts). */
  readonly request?: WireRequest;

  constructor(
    claimed: Pick<
      ClaimedTask,
      'id' | 'function' | 'args' | 'timeoutMs' | 'attempt' | 'submittedAt'
    >,
    onEnd?: (ending: RunEnding) => void,
    request?: WireRequest,
  ) {
    this.id = claimed.id;
    this.fn = claimed.function;
    this.#args = claimed.args;
    this.timeoutMs = claimed.timeoutMs;
    this.attempt = claimed.attempt;
    this.submittedAt = claimed.submittedAt;
    this.#onEnd = onEnd;
    if (request) this.request = request;
  }

  get status(): RunStatus {
    return this.#status;
  }
  /** Dropped once the run ends. */
  get args(): unknown[] {
    return this.#args;
  }
  get startedAt(): number | undefined {
    return this.#startedAt;
  }
  get workerId(): number | undefined {
    return this.#workerId;
  }
  get terminal(): boolean {
    return this.#status !== 'queued' && this.#status !== 'running';
  }
  /** No backend record: an HTTP-handler call (`FunctionPool.runEphemeral`). */
  get ephemeral(): boolean {
    return this.#onEnd !== undefined;
  }
  get ending(): RunEnding | undefined {
    return this.#ending;
  }

  /** Handed to a worker at `at` (its start time until the worker reports the real one). */
  markRunning(workerId: number, at: number): void {
    if (this.#status !== 'queued') return;
    this.#status = 'running';
    this.#workerId = workerId;
    this.#startedAt = at;
  }

  /** Back to waiting: its worker died before it began. */
  requeue(): void {
    if (this.#status !== 'running') return;
    this.#status = 'queued';
    this.#workerId = undefined;
    this.#startedAt = undefined;
  }

  complete(result: unknown, at: number, times: RunTimes): boolean {
    if (this.terminal) return false;
    const { startedAt, executionTime } = this.#times(times, at);
    const ending: RunEnding = {
      status: 'completed',
      result,
      startedAt,
      endedAt: at,
      executionTime,
      workerId: this.#workerId ?? 0,
    };
    if (times.logs) ending.logs = times.logs;
    return this.#end(ending);
  }

  fail(code: FailureCode, error: string, at: number, times: RunTimes = {}): boolean {
    if (this.terminal) return false;
    const ending: RunEnding = { status: 'failed', error, errorCode: code, endedAt: at };
    if (this.#status === 'running') {
      const { startedAt, executionTime } = this.#times(times, at);
      ending.startedAt = startedAt;
      if (times.executionTime !== undefined) ending.executionTime = executionTime;
      if (this.#workerId !== undefined) ending.workerId = this.#workerId;
    }
    if (times.logs) ending.logs = times.logs;
    return this.#end(ending);
  }

  /** Cancelled (the backend holds the record's cancel): a later outcome is dropped. */
  cancel(): boolean {
    if (this.terminal) return false;
    this.#status = 'cancelled';
    this.#args = NO_ARGS;
    return true;
  }

  #times(times: RunTimes, at: number): { startedAt: number; executionTime: number } {
    if (times.startedAt !== undefined) this.#startedAt = times.startedAt;
    const startedAt = this.#startedAt ?? at;
    return { startedAt, executionTime: times.executionTime ?? at - startedAt };
  }

  #end(ending: RunEnding): boolean {
    this.#status = ending.status;
    this.#ending = ending;
    this.#args = NO_ARGS;
    this.#onEnd?.(ending);
    return true;
  }
}
