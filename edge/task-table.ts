/**
 * The task table of one Durable Object shard: the portable task rules and rows
 * (`runtime/backend/sql/`, shared with the embedded SQLite store) over the object's own SQLite
 * storage (`ctx.storage.sql`, synchronous), plus the outcome counts `/stats` adds up over every
 * shard. A Durable Object commits the writes of one turn together, so a call's writes land as
 * one. The object that owns it runs what it `claim`s and reports with `finish`; its alarm,
 * set for `nextDue()`, claims what came due (the table keeps no timer: a pending one is lost when
 * the object is evicted, and from compatibility date 2026-10-01 keeps it running and billed).
 * @module
 */
import type { SqlStorage } from '@cloudflare/workers-types/latest/index.ts';
import type { SqlExecutor } from '../runtime/backend/sql/executor.ts';
import {
  SqlTaskTable as PortableTaskTable,
  type TableLimits,
  type TableOptions,
} from '../runtime/backend/sql/task-table.ts';
import { noOutcomes, type Outcomes, OutcomeTable } from './outcome-table.ts';

export type { ListCursor, TableLimits, TableOptions } from '../runtime/backend/sql/task-table.ts';

/** `ctx.storage.sql` as the table's executor. */
const storageExecutor = (sql: SqlStorage): SqlExecutor => ({
  run: (query, ...params) => {
    sql.exec(query, ...params);
  },
  all: <T extends object>(query: string, ...params: (string | number | null)[]) =>
    sql.exec(query, ...params).toArray() as unknown as T[],
  one: <T extends object>(query: string, ...params: (string | number | null)[]) =>
    sql.exec(query, ...params).toArray()[0] as unknown as T | undefined,
});

export class SqlTaskTable extends PortableTaskTable {
  #outcomes: OutcomeTable;

  constructor(sql: SqlStorage, limits: TableLimits, options: Omit<TableOptions, 'ended'> = {}) {
    const outcomes = new OutcomeTable(sql);
    super(storageExecutor(sql), limits, {
      ...options,
      ended: (fn, outcome, runMs) => outcomes.record(fn, outcome, runMs),
    });
    this.#outcomes = outcomes;
  }

  /** Per function: queued and running counts, and the outcomes so far. */
  counts(): Record<string, { queued: number; running: number } & Outcomes> {
    const out: Record<string, { queued: number; running: number } & Outcomes> = {};
    for (const [fn, outcomes] of Object.entries(this.#outcomes.read())) {
      out[fn] = { queued: 0, running: 0, ...outcomes };
    }
    for (const row of this.live()) {
      const entry = out[row.fn] ?? { queued: 0, running: 0, ...noOutcomes() };
      out[row.fn] = entry;
      if (row.status === 'queued') entry.queued = row.n;
      else entry.running = row.n;
    }
    return out;
  }
}
