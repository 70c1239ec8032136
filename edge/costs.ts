/**
 * What a task shard's work costs, counted where it happens: calls into the object (by method,
 * the alarm and storage alarm writes included), runs sent to isolates, lookups in the registry,
 * and SQL statements. `/stats` adds them up over the shards as `edge.costs`, so a benchmark can
 * divide them by the tasks that ended (bench/cases/edge.ts prints them per task).
 * @module
 */
import type { SqlStorage } from '@cloudflare/workers-types/latest/index.ts';

export interface ShardCosts {
  /** Calls by name: object methods, `alarm`, `setAlarm` (a storage write), `isolate`, `registry`. */
  calls: Record<string, number>;
  /** SQL statements run (reads and writes). */
  statements: number;
}

export class Costs {
  #calls: Record<string, number> = {};
  #statements = 0;

  call(name: string): void {
    this.#calls[name] = (this.#calls[name] ?? 0) + 1;
  }

  statement(): void {
    this.#statements++;
  }

  read(): ShardCosts {
    return { calls: { ...this.#calls }, statements: this.#statements };
  }
}

/** `sql` with every `exec` counted. */
export const countingSql = (sql: SqlStorage, costs: Costs): SqlStorage =>
  new Proxy(sql, {
    get(target, property) {
      if (property === 'exec') {
        return (query: string, ...bindings: unknown[]) => {
          costs.statement();
          return (target.exec as (q: string, ...b: unknown[]) => unknown)(query, ...bindings);
        };
      }
      const value = Reflect.get(target, property, target) as unknown;
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });

/** Every shard's costs added up. */
export const addCosts = (all: ShardCosts[]): ShardCosts => {
  const calls: Record<string, number> = {};
  let statements = 0;
  for (const costs of all) {
    statements += costs.statements;
    for (const [name, n] of Object.entries(costs.calls)) calls[name] = (calls[name] ?? 0) + n;
  }
  return { calls, statements };
};
