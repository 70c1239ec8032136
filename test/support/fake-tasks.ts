/**
 * The task records of the fake runtime (`fake-runtime.ts`) and their runs, in memory: a task goes
 * `queued → running → completed | failed | cancelled`, each function runs at most `maxWorkers ×
 * concurrency` at once (the rest wait in its queue, up to `maxQueue`), a run past its timeout
 * fails `timed_out`, a failure with attempts left runs again at once (no backoff), and every
 * refusal is an `EbbflowError` with the runtime's code.
 */
import {
  EbbflowError,
  type FailureCode,
  type ResolvedFunctionConfig,
  type SubmitOptions,
  type TaskPage,
  type TaskQuery,
  type TaskRecord,
} from '../../runtime/index.ts';

/** What the store needs of a function to run its tasks. */
export interface Runner {
  run?: (...args: unknown[]) => unknown;
  config: ResolvedFunctionConfig;
  version?: number;
  /** Why it cannot run (its module did not load): its tasks fail `load_failed` at once. */
  unavailable?: string;
}

interface Task {
  record: TaskRecord;
  args: unknown[];
  timeoutMs: number;
  /** Bumped at each run, so the ending of a run that was cut off (timeout, cancel) is dropped. */
  run: number;
}

/** Per function: tasks waiting, running, and how the others ended. */
export interface TaskCounts {
  queued: number;
  running: number;
  completed: number;
  failed: number;
  cancelled: number;
  /** Mean run time of completed tasks in ms. */
  avgTaskTime: number;
}

export const isTerminal = (record: TaskRecord) =>
  record.status === 'completed' || record.status === 'failed' || record.status === 'cancelled';

const copy = (record: TaskRecord): TaskRecord => structuredClone(record);

export class FakeTaskStore {
  #runnerOf: (name: string) => Runner | undefined;
  #changed: (record: TaskRecord) => void;
  #tasks = new Map<string, Task>();
  /** Ids oldest first (listing reads it backwards). */
  #order: string[] = [];
  #queues = new Map<string, string[]>();
  #running = new Map<string, number>();
  #waiters = new Map<string, Set<() => void>>();
  #closed = false;

  /** `runnerOf` says how a function's tasks run now; `changed` hears every state change. */
  constructor(
    runnerOf: (name: string) => Runner | undefined,
    changed: (record: TaskRecord) => void,
  ) {
    this.#runnerOf = runnerOf;
    this.#changed = changed;
  }

  /** A new task of `name`, queued (or failed at once when the function cannot run). */
  accept(name: string, args: unknown[], options: SubmitOptions, retryOf?: string): TaskRecord {
    const runner = this.#runnerOf(name) as Runner;
    const id = options.id ?? crypto.randomUUID();
    if (this.#tasks.has(id)) {
      throw new EbbflowError('duplicate_id', `task id "${id}" is already in use`);
    }
    const queue = this.#queue(name);
    if (queue.length >= runner.config.maxQueue) {
      throw new EbbflowError(
        'queue_full',
        `the queue of "${name}" is full (${runner.config.maxQueue} tasks); retry later`,
      );
    }
    const record: TaskRecord = {
      id,
      function: name,
      status: 'queued',
      submittedAt: Date.now(),
      attempt: 1,
      attempts: options.retry?.attempts ?? runner.config.retry.attempts,
      ...(retryOf === undefined ? {} : { retryOf }),
      ...(runner.version === undefined ? {} : { version: runner.version }),
    };
    const task: Task = {
      record,
      args,
      timeoutMs: options.timeoutMs ?? runner.config.timeoutMs,
      run: 0,
    };
    this.#tasks.set(id, task);
    this.#order.push(id);
    if (runner.unavailable !== undefined) {
      this.#fail(task, 'load_failed', runner.unavailable);
    } else {
      queue.push(id);
      this.#changed(copy(record));
      // The caller gets its `queued` record before anything runs, as from the real runtime.
      queueMicrotask(() => this.#dispatch(name));
    }
    return copy(record);
  }

  read(id: string): TaskRecord | undefined {
    const task = this.#tasks.get(id);
    return task && copy(task.record);
  }

  wait(id: string, ms: number): Promise<TaskRecord | undefined> {
    const task = this.#tasks.get(id);
    if (!task || isTerminal(task.record)) return Promise.resolve(this.read(id));
    return new Promise((resolve) => {
      const waiters = this.#waiters.get(id) ?? new Set();
      this.#waiters.set(id, waiters);
      const done = () => {
        clearTimeout(timer);
        waiters.delete(done);
        resolve(copy(task.record));
      };
      const timer = Number.isFinite(ms) ? setTimeout(done, ms) : undefined;
      waiters.add(done);
    });
  }

  cancel(id: string): TaskRecord {
    const task = this.#tasks.get(id);
    if (!task) throw unknownTask(id);
    const { record } = task;
    if (isTerminal(record)) {
      throw new EbbflowError(
        'already_terminal',
        `task "${id}" has already ended (${record.status})`,
      );
    }
    this.#stop(task);
    this.#change(task, { status: 'cancelled', cancelledAt: Date.now(), error: 'cancelled' });
    return copy(record);
  }

  list(query: TaskQuery): TaskPage {
    let end = this.#order.length;
    if (query.before !== undefined) {
      end = this.#order.lastIndexOf(query.before);
      if (end < 0) {
        throw new EbbflowError(
          'invalid_argument',
          `before: no task with id "${query.before}" (unknown or expired); start again without it`,
        );
      }
    }
    const matches = (id: string) => {
      const { record } = this.#tasks.get(id) as Task;
      return (
        (query.function === undefined || record.function === query.function) &&
        (query.status === undefined || record.status === query.status)
      );
    };
    const tasks: TaskRecord[] = [];
    let i = end - 1;
    for (; i >= 0 && tasks.length < query.limit; i--) {
      const id = this.#order[i] as string;
      if (matches(id)) tasks.push(copy((this.#tasks.get(id) as Task).record));
    }
    const last = tasks.at(-1);
    return last && this.#order.slice(0, i + 1).some(matches) ? { tasks, next: last.id } : { tasks };
  }

  /** What a replay runs again: the function and args of a failed or cancelled task. */
  replayable(id: string): { function: string; args: unknown[] } {
    const task = this.#tasks.get(id);
    if (!task) throw unknownTask(id);
    const { status } = task.record;
    if (status !== 'failed' && status !== 'cancelled') {
      throw new EbbflowError(
        'not_retryable',
        `task "${id}" is ${status}; only a failed or cancelled task can be retried`,
      );
    }
    return { function: task.record.function, args: task.args };
  }

  counts(name: string): TaskCounts {
    const ended = [...this.#tasks.values()]
      .map((t) => t.record)
      .filter((r) => r.function === name && isTerminal(r));
    const completed = ended.filter((r) => r.status === 'completed');
    const runTime = completed.reduce((total, r) => total + (r.executionTime ?? 0), 0);
    return {
      queued: this.#queues.get(name)?.length ?? 0,
      running: this.#running.get(name) ?? 0,
      completed: completed.length,
      failed: ended.filter((r) => r.status === 'failed').length,
      cancelled: ended.filter((r) => r.status === 'cancelled').length,
      avgTaskTime: completed.length === 0 ? 0 : runTime / completed.length,
    };
  }

  /** Fails what has not ended (`shutdown`); nothing runs after. */
  close(): void {
    this.#closed = true;
    for (const task of this.#tasks.values()) {
      if (isTerminal(task.record)) continue;
      this.#stop(task);
      this.#fail(task, 'shutdown', 'the runtime shut down before the task ended');
    }
  }

  #queue(name: string): string[] {
    const queue = this.#queues.get(name) ?? [];
    this.#queues.set(name, queue);
    return queue;
  }

  #dispatch(name: string): void {
    const runner = this.#runnerOf(name);
    const queue = this.#queue(name);
    if (!runner || this.#closed) return;
    const lanes = runner.config.maxWorkers * runner.config.concurrency;
    while (queue.length > 0 && (this.#running.get(name) ?? 0) < lanes) {
      this.#start(this.#tasks.get(queue.shift() as string) as Task, runner);
    }
  }

  #start(task: Task, runner: Runner): void {
    const name = task.record.function;
    this.#running.set(name, (this.#running.get(name) ?? 0) + 1);
    const run = ++task.run;
    const startedAt = Date.now();
    this.#change(task, { status: 'running', startedAt, workerId: 1 });
    const current = () => task.run === run;
    const timer = setTimeout(() => {
      if (!current()) return;
      this.#stop(task);
      this.#fail(task, 'timed_out', `timed out after ${task.timeoutMs} ms`, { timedOut: true });
    }, task.timeoutMs);
    new Promise((resolve) => resolve((runner.run as (...a: unknown[]) => unknown)(...task.args)))
      .then(
        (result) => {
          if (!current()) return;
          this.#stop(task);
          const completedAt = Date.now();
          const executionTime = completedAt - startedAt;
          this.#change(task, { status: 'completed', result, completedAt, executionTime });
        },
        (error: unknown) => {
          if (!current()) return;
          this.#stop(task);
          this.#fail(task, 'function_threw', String((error as Error)?.message ?? error), {
            executionTime: Date.now() - startedAt,
          });
        },
      )
      .finally(() => clearTimeout(timer));
  }

  /** Out of its queue or its lane; a run still going will not be heard. */
  #stop(task: Task): void {
    const name = task.record.function;
    task.run++;
    if (task.record.status === 'running') {
      this.#running.set(name, Math.max(0, (this.#running.get(name) ?? 0) - 1));
      queueMicrotask(() => this.#dispatch(name));
      return;
    }
    const queue = this.#queue(name);
    const at = queue.indexOf(task.record.id);
    if (at >= 0) queue.splice(at, 1);
  }

  /** A failure: queued again while attempts are left, else terminal. */
  #fail(task: Task, code: FailureCode, error: string, extra: Partial<TaskRecord> = {}): void {
    const { record } = task;
    const retryable = code === 'function_threw' || code === 'timed_out';
    if (retryable && (record.attempt ?? 1) < (record.attempts ?? 1) && !this.#closed) {
      this.#change(task, { status: 'queued', attempt: (record.attempt ?? 1) + 1 });
      this.#queue(record.function).push(record.id);
      queueMicrotask(() => this.#dispatch(record.function));
      return;
    }
    this.#change(task, {
      status: 'failed',
      failedAt: Date.now(),
      error,
      errorCode: code,
      ...extra,
    });
  }

  #change(task: Task, fields: Partial<TaskRecord>): void {
    Object.assign(task.record, fields);
    this.#changed(copy(task.record));
    if (!isTerminal(task.record)) return;
    for (const wake of this.#waiters.get(task.record.id) ?? []) wake();
    this.#waiters.delete(task.record.id);
  }
}

const unknownTask = (id: string) =>
  new EbbflowError('unknown_task', `no task with id "${id}" (unknown or expired)`);
