/**
 * The wire between a task shard (or the Worker) and a function's isolate. The isolate's default
 * entrypoint is the function's own `fetch` only: ebbflow's calls go to a named entrypoint
 * (`EbbflowRunner`) that no request through `/fn/` can reach. A run answers NDJSON: a `log` line
 * as each kept line is printed, then one `end` line with the outcome.
 * @module
 */
import type { LogEntry } from '../../runtime/worker/protocol.ts';

/** The isolate's entrypoint for ebbflow's own calls. */
export const RUNNER_ENTRYPOINT = 'EbbflowRunner';

/** Paths of that entrypoint. */
export const RUNNER_PATHS = { probe: '/probe', run: '/run' } as const;

/** What a run is sent. */
export interface RunRequest {
  args: unknown[];
  /**
   * How long the isolate keeps a timer pending while the function awaits. workerd cancels a
   * request whose code awaits nothing it can see ("hung"); the caller's own deadline ends the run
   * first.
   */
  keepAliveMs: number;
  /**
   * Whether each line is wanted as it is printed (someone follows the task's events). Without,
   * the run answers its `end` line alone, as one body: no stream to set up.
   */
  live: boolean;
  /** A result whose JSON is larger fails the run (`result_too_large`); none when unset. */
  maxResultBytes?: number;
}

/** The failures an isolate reports itself; the caller adds timeouts, exits and cancels. */
export type IsolateFailure = 'function_threw' | 'result_not_serializable' | 'result_too_large';

/** One line of a run's answer. */
export type RunLine =
  | ({ type: 'log' } & LogEntry)
  | {
      type: 'end';
      ok: true;
      result: unknown;
      executionTime: number;
      logs?: LogEntry[];
    }
  | {
      type: 'end';
      ok: false;
      code: IsolateFailure;
      error: string;
      executionTime: number;
      logs?: LogEntry[];
    };

/** What a probe answers: the module's `config` export and which exports it has. */
export type IsolateProbe =
  | { ok: true; config: unknown; callable: boolean; handler: boolean }
  | { ok: false; error: string };
