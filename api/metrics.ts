/**
 * Prometheus text exposition (format 0.0.4) of the server: tasks ended by function and outcome,
 * a histogram of run time, HTTP requests, and gauges read from the runtime at scrape time.
 * `observe` is given to the runtime as `onTaskEnd`, so it sees every task however submitted.
 * @module
 */
import type { ClusterStats, Runtime, TaskOutcome, TaskRecord } from '../runtime/index.ts';

const OUTCOMES: readonly TaskOutcome[] = ['completed', 'failed', 'timed_out', 'cancelled'];

/** Upper bounds of the run-time histogram, in seconds. */
export const RUN_TIME_BUCKETS = [
  0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300,
] as const;

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

interface Histogram {
  counts: number[];
  sum: number;
  count: number;
}

export class Metrics {
  #tasks = new Map<string, Map<TaskOutcome, number>>();
  #runTime = new Map<string, Histogram>();
  #http = new Map<string, number>();
  /** Failed tasks by function and `errorCode` (label text → count). */
  #failures = new Map<string, number>();

  /** Record a task that became terminal. */
  observe = (record: TaskRecord): void => {
    const outcome: TaskOutcome =
      record.status === 'failed' && record.errorCode === 'timed_out'
        ? 'timed_out'
        : (record.status as TaskOutcome);
    const byOutcome = this.#tasks.get(record.function) ?? new Map<TaskOutcome, number>();
    byOutcome.set(outcome, (byOutcome.get(outcome) ?? 0) + 1);
    this.#tasks.set(record.function, byOutcome);
    if (record.status === 'failed') {
      const key = `function="${labelValue(record.function)}",code="${record.errorCode ?? 'unknown'}"`;
      this.#failures.set(key, (this.#failures.get(key) ?? 0) + 1);
    }
    if (record.executionTime === undefined) return;
    const seconds = record.executionTime / 1000;
    let h = this.#runTime.get(record.function);
    if (!h) {
      h = { counts: RUN_TIME_BUCKETS.map(() => 0), sum: 0, count: 0 };
      this.#runTime.set(record.function, h);
    }
    for (let i = 0; i < RUN_TIME_BUCKETS.length; i++) {
      if (seconds <= (RUN_TIME_BUCKETS[i] as number)) h.counts[i] = (h.counts[i] as number) + 1;
    }
    h.sum += seconds;
    h.count++;
  };

  /**
   * Replace the task counters with totals kept elsewhere: at the edge the Durable Objects count
   * the tasks, and each Worker isolate sees only a part of them.
   */
  absorb(
    totals: Record<
      string,
      { completed: number; failed: number; timedOut: number; cancelled: number } & {
        runMs: number;
        runs: number;
        buckets: number[];
      }
    >,
  ): void {
    this.#tasks.clear();
    this.#runTime.clear();
    for (const [fn, t] of Object.entries(totals)) {
      this.#tasks.set(
        fn,
        new Map<TaskOutcome, number>([
          ['completed', t.completed],
          ['failed', t.failed],
          ['timed_out', t.timedOut],
          ['cancelled', t.cancelled],
        ]),
      );
      this.#runTime.set(fn, { counts: [...t.buckets], sum: t.runMs / 1000, count: t.runs });
    }
  }

  /** Count one answered HTTP request (`route` is the route pattern, not the raw path). */
  request(method: string, route: string, status: number): void {
    // Methods are client-chosen: a fixed set keeps the number of series bounded.
    const m = METHODS.has(method) ? method : 'other';
    const key = `method="${m}",route="${labelValue(route)}",status="${status}"`;
    this.#http.set(key, (this.#http.get(key) ?? 0) + 1);
  }

  /**
   * The exposition text. Every known function gets every series, zeros included. `streams`:
   * the event streams and long-polls open now, and their bound.
   */
  render(
    runtime: Runtime,
    cluster?: ClusterStats,
    streams?: { open: number; max: number },
  ): string {
    const stats = runtime.stats();
    const names = [...new Set([...Object.keys(stats.functions), ...this.#tasks.keys()])].sort();
    const out: string[] = [];
    const family = (name: string, type: string, help: string) =>
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);

    family('ebbflow_tasks_total', 'counter', 'Tasks that ended, by function and outcome.');
    for (const fn of names) {
      for (const outcome of OUTCOMES) {
        const n = this.#tasks.get(fn)?.get(outcome) ?? 0;
        out.push(`ebbflow_tasks_total{function="${labelValue(fn)}",outcome="${outcome}"} ${n}`);
      }
    }

    family('ebbflow_task_failures_total', 'counter', 'Failed tasks, by function and errorCode.');
    for (const [labels, n] of this.#failures)
      out.push(`ebbflow_task_failures_total{${labels}} ${n}`);

    family('ebbflow_task_run_seconds', 'histogram', 'Time tasks ran inside a worker.');
    for (const fn of names) {
      const label = `function="${labelValue(fn)}"`;
      const h = this.#runTime.get(fn);
      RUN_TIME_BUCKETS.forEach((le, i) => {
        out.push(`ebbflow_task_run_seconds_bucket{${label},le="${le}"} ${h?.counts[i] ?? 0}`);
      });
      out.push(`ebbflow_task_run_seconds_bucket{${label},le="+Inf"} ${h?.count ?? 0}`);
      out.push(`ebbflow_task_run_seconds_sum{${label}} ${h?.sum ?? 0}`);
      out.push(`ebbflow_task_run_seconds_count{${label}} ${h?.count ?? 0}`);
    }

    const gauges: Array<[string, string, (f: (typeof stats.functions)[string]) => number]> = [
      ['ebbflow_workers', 'Live workers (starting included).', (f) => f.activeWorkers],
      ['ebbflow_queued_tasks', 'Tasks waiting for a worker.', (f) => f.queueSize],
      ['ebbflow_running_tasks', 'Tasks running in a worker.', (f) => f.activeTasks],
      ['ebbflow_workers_min', "The function's minimum of warm workers.", (f) => f.minWorkers],
      ['ebbflow_workers_limit', "The function's ceiling of workers.", (f) => f.maxWorkers],
    ];
    for (const [name, help, read] of gauges) {
      family(name, 'gauge', help);
      for (const [fn, f] of Object.entries(stats.functions)) {
        out.push(`${name}{function="${labelValue(fn)}"} ${read(f)}`);
      }
    }

    family('ebbflow_worker_cold_starts_total', 'counter', 'Workers started (spawn to ready).');
    for (const [fn, f] of Object.entries(stats.functions)) {
      out.push(`ebbflow_worker_cold_starts_total{function="${labelValue(fn)}"} ${f.coldStarts}`);
    }

    family('ebbflow_function_up', 'gauge', '1 when the function is ready, 0 when unavailable.');
    for (const info of runtime.functions()) {
      out.push(
        `ebbflow_function_up{function="${labelValue(info.name)}"} ${info.status === 'ready' ? 1 : 0}`,
      );
    }

    family('ebbflow_workers_max', 'gauge', 'The ceiling on all workers of the server together.');
    out.push(`ebbflow_workers_max ${stats.maxWorkers}`);
    family('ebbflow_draining', 'gauge', '1 while the server shuts down.');
    out.push(`ebbflow_draining ${runtime.draining ? 1 : 0}`);

    if (streams) {
      family('ebbflow_open_streams', 'gauge', 'Event streams and long-polls open now.');
      out.push(`ebbflow_open_streams ${streams.open}`);
      family('ebbflow_open_streams_max', 'gauge', 'The bound on them (EBBFLOW_MAX_STREAMS).');
      out.push(`ebbflow_open_streams_max ${streams.max}`);
    }

    if (cluster) renderCluster(cluster, family, out);

    family('ebbflow_http_requests_total', 'counter', 'HTTP requests answered.');
    for (const [labels, n] of this.#http) out.push(`ebbflow_http_requests_total{${labels}} ${n}`);
    return `${out.join('\n')}\n`;
  }
}

/** Label values escape backslash, double quote and newline. */
const labelValue = (value: string): string =>
  value.replaceAll('\\', '\\\\').replaceAll('"', '\\"').replaceAll('\n', '\\n');

/** Several servers: the cluster's view from this server (each server reports the same totals). */
const renderCluster = (
  cluster: ClusterStats,
  family: (name: string, type: string, help: string) => void,
  out: string[],
) => {
  family('ebbflow_cluster_servers', 'gauge', 'Servers of the cluster with a recent heartbeat.');
  out.push(`ebbflow_cluster_servers ${cluster.servers.length}`);
  family(
    'ebbflow_cluster_reachable',
    'gauge',
    'Whether the shared store answered this server (1) or not (0).',
  );
  out.push(`ebbflow_cluster_reachable ${cluster.reachable ? 1 : 0}`);
  family('ebbflow_cluster_queued_tasks', 'gauge', 'Tasks waiting on any server of the cluster.');
  for (const [fn, f] of Object.entries(cluster.functions)) {
    out.push(`ebbflow_cluster_queued_tasks{function="${labelValue(fn)}"} ${f.queued}`);
  }
  family('ebbflow_cluster_running_tasks', 'gauge', 'Tasks running on any server of the cluster.');
  for (const [fn, f] of Object.entries(cluster.functions)) {
    out.push(`ebbflow_cluster_running_tasks{function="${labelValue(fn)}"} ${f.running}`);
  }
};
