/**
 * A task's record read from the BullMQ job hash plus ebbflow's fields on it. Which state a job
 * is in follows from the hash alone: a held lock is `running`, `finishedOn` with a return value
 * `completed`, without one `failed`, anything else `queued` (waiting, delayed for a retry's
 * backoff, or stalled on a lost server until it is picked up again). A cancel mark wins over all.
 * @module
 */
import type { FailureCode, TaskLog, TaskRecord } from '../../types.ts';

/** What `data` of a job holds. */
export interface JobData {
  args: unknown[];
  timeoutMs: number;
  attempts: number;
  backoffMs: number;
  version?: number;
  retryOf?: string;
}

/** Written on the job hash (`ebr`) when a server claims it. */
export interface RunMark {
  /** Worker id on the server that runs it. */
  w: number;
  /** Started at (ms). */
  s: number;
  /** Attempt number. */
  a: number;
  /** Server id. */
  srv: string;
}

/** How an attempt ended, beside BullMQ's return value / failed reason. */
export interface EndMark {
  a: number;
  /** When the run ended, as its server measured it (BullMQ's `finishedOn` is when it was told). */
  t?: number;
  w?: number;
  s?: number;
  x?: number;
  v?: number;
  l?: TaskLog[];
  /** Failures only: the code and the message. */
  c?: FailureCode;
  e?: string;
  /** Completed only: the function's result. */
  r?: unknown;
}

export interface CancelMark {
  at: number;
  running: boolean;
}

/** One READ script answer, decoded. */
export interface RawTask {
  fn: string;
  hash: Record<string, string>;
  locked: boolean;
  cancel?: CancelMark;
}

export const decodeRaw = (raw: unknown): RawTask | undefined => {
  if (!Array.isArray(raw)) return undefined;
  const [fn, flat, locked, cancel] = raw as [string, string[], number, string | null | false];
  const hash: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) hash[flat[i] as string] = flat[i + 1] as string;
  const task: RawTask = { fn, hash, locked: locked === 1 };
  if (typeof cancel === 'string') task.cancel = JSON.parse(cancel) as CancelMark;
  return task;
};

const json = <T>(text: string | undefined): T | undefined =>
  text === undefined ? undefined : (JSON.parse(text) as T);

const int = (text: string | undefined): number => (text === undefined ? 0 : Number(text));

export const jobData = (raw: RawTask): JobData => json<JobData>(raw.hash.data) as JobData;

/** Attempts spent: BullMQ's own count plus runs lost with their server (stalls). */
export const attemptsUsed = (raw: RawTask): number => int(raw.hash.atm) + int(raw.hash.stc);

/** Whether the record has outlived its time to live (BullMQ removes finished jobs lazily). */
export const finishedAt = (raw: RawTask): number | undefined =>
  raw.hash.finishedOn === undefined ? undefined : int(raw.hash.finishedOn);

export const toRecord = (id: string, raw: RawTask): TaskRecord => {
  const data = jobData(raw);
  const record: TaskRecord = {
    id,
    function: raw.fn,
    status: 'queued',
    submittedAt: int(raw.hash.timestamp),
    attempts: data.attempts,
  };
  if (data.retryOf !== undefined) record.retryOf = data.retryOf;
  if (data.version !== undefined) record.version = data.version;
  const run = json<RunMark>(raw.hash.ebr);
  const end = json<EndMark>(raw.hash.returnvalue) ?? json<EndMark>(raw.hash.ebf);
  if (raw.cancel) {
    record.status = 'cancelled';
    record.cancelledAt = raw.cancel.at;
    record.error = raw.cancel.running
      ? 'cancelled while running'
      : attemptsUsed(raw) > 0
        ? 'cancelled while waiting for its next attempt'
        : 'cancelled before it started';
    if (run && raw.cancel.running) {
      record.startedAt = run.s;
      record.workerId = run.w;
      record.attempt = run.a;
    }
    record.attempt ??= Math.max(1, attemptsUsed(raw));
    return record;
  }
  const finished = finishedAt(raw);
  if (raw.locked && finished === undefined && run) {
    record.status = 'running';
    record.startedAt = run.s;
    record.workerId = run.w;
    record.attempt = run.a;
    return record;
  }
  if (finished === undefined) {
    // Waiting for its first run, a retry's backoff, or a new server after a lost one.
    record.attempt = attemptsUsed(raw) + 1;
    if (end?.e !== undefined) record.error = end.e;
    if (end?.c !== undefined) record.errorCode = end.c;
    return record;
  }
  const completed = raw.hash.returnvalue !== undefined;
  record.status = completed ? 'completed' : 'failed';
  if (completed) record.completedAt = end?.t ?? finished;
  else record.failedAt = end?.t ?? finished;
  if (end) applyEnd(record, end);
  if (!completed) {
    record.error ??= raw.hash.failedReason ?? 'failed';
    if (record.errorCode === 'timed_out') record.timedOut = true;
  }
  record.attempt ??= Math.max(1, attemptsUsed(raw));
  return record;
};

const applyEnd = (record: TaskRecord, end: EndMark) => {
  record.attempt = end.a;
  if (end.s !== undefined) record.startedAt = end.s;
  if (end.w !== undefined) record.workerId = end.w;
  if (end.x !== undefined) record.executionTime = end.x;
  if (end.v !== undefined) record.version = end.v;
  if (end.l && end.l.length > 0) record.logs = end.l;
  if (end.c !== undefined) record.errorCode = end.c;
  if (end.e !== undefined) record.error = end.e;
  if ('r' in end && end.r !== undefined) record.result = end.r;
};

export const isTerminal = (record: TaskRecord): boolean =>
  record.status !== 'queued' && record.status !== 'running';
