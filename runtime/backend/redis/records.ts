/**
 * Task records on the TypeScript side of the scripts: the terminal record a finishing server
 * composes (it alone holds the result), a claim's row decoded, and the events channel's messages.
 * The scripts compose every other record (`scripts.ts`, `recordOf`).
 * @module
 */
import type { ClaimedTask, TaskEnding, TaskRecord } from '../../types.ts';

/** A task claimed by this server, as the CLAIM script hands it out. */
export interface ClaimRow {
  /** Which (worker, count) pair of the claim it went to, from 0. */
  pair: number;
  token: string;
  task: ClaimedTask;
  workerId: number;
  attempts: number;
  backoffMs: number;
  retryOf?: string;
  version?: number;
  /** When the claim started it (this server's clock). */
  startedAt: number;
}

/** One row of the CLAIM script's answer (see its comment for the order). */
export const decodeClaimRow = (row: unknown[], fn: string, startedAt: number): ClaimRow => {
  const [pair, id, worker, token, args, timeoutMs, attempt, submittedAt, attempts, backoff] =
    row as [number, string, string, string, string, string, string, string, string, string];
  const retryOf = row[10];
  const version = row[11];
  const claimed: ClaimRow = {
    pair: Number(pair) - 1,
    token,
    workerId: Number(worker),
    attempts: Number(attempts),
    backoffMs: Number(backoff),
    startedAt,
    task: {
      id,
      function: fn,
      args: JSON.parse(args) as unknown[],
      timeoutMs: Number(timeoutMs),
      attempt: Number(attempt),
      submittedAt: Number(submittedAt),
    },
  };
  if (typeof retryOf === 'string') claimed.retryOf = retryOf;
  if (typeof version === 'string') claimed.version = Number(version);
  return claimed;
};

type Ended = Extract<TaskEnding, { status: 'completed' | 'failed' }>;

/** The record of a run that ended completed or failed for good, as every server will read it. */
export const terminalRecord = (claim: ClaimRow, ending: Ended): TaskRecord => {
  const { task } = claim;
  const record: TaskRecord = {
    id: task.id,
    function: task.function,
    status: ending.status,
    submittedAt: task.submittedAt,
    startedAt: ending.startedAt ?? claim.startedAt,
    attempt: task.attempt,
    attempts: claim.attempts,
    workerId: ending.workerId ?? claim.workerId,
  };
  if (ending.status === 'completed') {
    record.completedAt = ending.endedAt;
    if (ending.result !== undefined) record.result = ending.result;
  } else {
    record.failedAt = ending.endedAt;
    record.error = ending.error;
    record.errorCode = ending.errorCode;
    if (ending.errorCode === 'timed_out') record.timedOut = true;
  }
  if (ending.executionTime !== undefined) record.executionTime = ending.executionTime;
  if (claim.retryOf !== undefined) record.retryOf = claim.retryOf;
  const version = ending.version ?? claim.version;
  if (version !== undefined) record.version = version;
  if (ending.logs && ending.logs.length > 0) record.logs = ending.logs;
  return record;
};

/** A message of the events channel: the records a server changed in one script. */
export interface ChangeEvent {
  server: string;
  records: TaskRecord[];
}

/** Anything else published there is ignored. */
export const parseEvent = (message: string): ChangeEvent | undefined => {
  try {
    const event = JSON.parse(message) as ChangeEvent;
    return typeof event?.server === 'string' && Array.isArray(event.records) ? event : undefined;
  } catch {
    return undefined;
  }
};

/** A record (JSON) a script answered, or undefined for false/null (unknown or gone). */
export const parseRecord = (value: unknown): TaskRecord | undefined =>
  typeof value === 'string' ? (JSON.parse(value) as TaskRecord) : undefined;

export const isTerminal = (record: TaskRecord): boolean =>
  record.status !== 'queued' && record.status !== 'running';
