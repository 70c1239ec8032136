/**
 * How a shard's tasks ended, per function, in the shard's SQLite beside the records: counts by
 * outcome and a run-time histogram, so `/stats` and `/metrics` add up every shard and survive
 * restarts (records themselves expire).
 * @module
 */
import type { SqlStorage } from '@cloudflare/workers-types/latest/index.ts';
import type { TaskOutcome } from '../runtime/types.ts';

/** Tasks that ended, per function. */
export interface Outcomes {
  completed: number;
  failed: number;
  timedOut: number;
  cancelled: number;
  runMs: number;
  runs: number;
  /** Runs at most each of `RUN_TIME_BOUNDS` seconds long (cumulative, as Prometheus counts). */
  buckets: number[];
}

/** The run-time histogram's upper bounds in seconds: the same as api/metrics.ts (a test checks). */
export const RUN_TIME_BOUNDS = [
  0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300,
] as const;

const SCHEMA = `CREATE TABLE IF NOT EXISTS outcomes (
  fn TEXT PRIMARY KEY,
  completed INTEGER NOT NULL DEFAULT 0,
  failed INTEGER NOT NULL DEFAULT 0,
  timed_out INTEGER NOT NULL DEFAULT 0,
  cancelled INTEGER NOT NULL DEFAULT 0,
  run_ms REAL NOT NULL DEFAULT 0,
  runs INTEGER NOT NULL DEFAULT 0,
  buckets TEXT NOT NULL DEFAULT '[]'
)`;

export const noOutcomes = (): Outcomes => ({
  completed: 0,
  failed: 0,
  timedOut: 0,
  cancelled: 0,
  runMs: 0,
  runs: 0,
  buckets: RUN_TIME_BOUNDS.map(() => 0),
});

interface OutcomeRow extends Record<string, string | number> {
  fn: string;
  completed: number;
  failed: number;
  timed_out: number;
  cancelled: number;
  run_ms: number;
  runs: number;
  buckets: string;
}

export class OutcomeTable {
  #sql: SqlStorage;
  #buckets = new Map<string, number[]>();

  constructor(sql: SqlStorage) {
    this.#sql = sql;
    sql.exec(SCHEMA);
  }

  /** Count one task of `fn` that ended as `outcome`, after running `runMs` when it ran. */
  record(fn: string, outcome: TaskOutcome, runMs: number | undefined): void {
    // The histogram is read once per function and kept: this object is its only writer.
    let buckets = this.#buckets.get(fn);
    if (!buckets) {
      const row = this.#sql
        .exec<{ buckets: string }>('SELECT buckets FROM outcomes WHERE fn = ?', fn)
        .toArray()[0];
      buckets = row ? (JSON.parse(row.buckets) as number[]) : RUN_TIME_BOUNDS.map(() => 0);
      this.#buckets.set(fn, buckets);
    }
    if (runMs !== undefined) {
      RUN_TIME_BOUNDS.forEach((le, i) => {
        buckets[i] = (buckets[i] ?? 0) + (runMs / 1000 <= le ? 1 : 0);
      });
    }
    // `outcome` is one of four fixed names, so it can name the column.
    this.#sql.exec(
      `INSERT INTO outcomes (fn, ${outcome}, run_ms, runs, buckets) VALUES (?, 1, ?, ?, ?)
       ON CONFLICT (fn) DO UPDATE SET ${outcome} = ${outcome} + 1,
         run_ms = run_ms + excluded.run_ms, runs = runs + excluded.runs, buckets = excluded.buckets`,
      fn,
      runMs ?? 0,
      runMs === undefined ? 0 : 1,
      JSON.stringify(buckets),
    );
  }

  /** Every function's outcomes so far. */
  read(): Record<string, Outcomes> {
    const out: Record<string, Outcomes> = {};
    for (const row of this.#sql.exec<OutcomeRow>('SELECT * FROM outcomes')) {
      out[row.fn] = {
        completed: row.completed,
        failed: row.failed,
        timedOut: row.timed_out,
        cancelled: row.cancelled,
        runMs: row.run_ms,
        runs: row.runs,
        buckets: JSON.parse(row.buckets) as number[],
      };
    }
    return out;
  }
}
