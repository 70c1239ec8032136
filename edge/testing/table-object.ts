/**
 * A Durable Object that holds one `SqlTaskTable` over its real SQLite storage, on a manual
 * clock, for the `TaskBackend` contract suite: each call of the suite arrives as a fetch
 * (`{ table, method, args }`), and the answer carries what the table's listeners heard meanwhile,
 * its clock and its queued counts (the contract's `queued` is synchronous, a round trip is not).
 * One object per table name, so every test starts from an empty table. Bundled and served by
 * `table-driver.ts`; never part of the Worker.
 * @module
 */
import { DurableObject } from 'cloudflare:workers';
import type {
  DurableObjectNamespace,
  DurableObjectState,
} from '@cloudflare/workers-types/latest/index.ts';
import { isReplay } from '../../runtime/backend/idempotency.ts';
import { ManualClock } from '../../runtime/time/manual-clock.ts';
import type { NewTask, TaskRecord } from '../../runtime/types.ts';
import { type Answer, answer } from '../answer.ts';
import { SqlTaskTable, type TableLimits } from '../task-table.ts';
import { decode, encode } from './wire.ts';

/** What the table told its listeners (or logged), in order. */
export type HarnessEvent =
  | { type: 'change'; record: TaskRecord }
  | { type: 'available'; fn: string }
  | { type: 'cancel'; id: string }
  | { type: 'log'; message: string };

export interface HarnessReply {
  answer: Answer<unknown>;
  events: HarnessEvent[];
  /** The table's clock after the call. */
  now: number;
  /** `queued(fn)` after the call, for every function the table was asked about. */
  queued: Record<string, number>;
  /** The answer is a record a repeated idempotency key got (its mark does not cross JSON). */
  replayed: boolean;
}

export interface HarnessCall {
  table: string;
  method: string;
  args: unknown[];
}

/** Retry jitter as the contract suite expects of a manual clock: a retry waits its base + 10 %. */
const HALF_JITTER = () => 0.5;

interface HarnessEnv {
  TABLES: DurableObjectNamespace;
}

export class TableHarness extends DurableObject<HarnessEnv> {
  #sql: DurableObjectState['storage']['sql'];
  #clock = new ManualClock();
  #table: SqlTaskTable | undefined;
  #events: HarnessEvent[] = [];
  #functions = new Set<string>();

  constructor(ctx: DurableObjectState, env: HarnessEnv) {
    super(ctx, env);
    this.#sql = ctx.storage.sql;
  }

  async call(method: string, args: unknown[]): Promise<HarnessReply> {
    const result = await answer(() => this.#run(method, args));
    const table = this.#table;
    const queued: Record<string, number> = {};
    if (table) for (const fn of this.#functions) queued[fn] = table.queued(fn);
    const replayed = result.ok && isRecord(result.value) && isReplay(result.value);
    return {
      answer: result,
      events: this.#events.splice(0),
      now: this.#clock.now(),
      queued,
      replayed,
    };
  }

  async #run(method: string, args: unknown[]): Promise<unknown> {
    if (method === 'open') return this.#open(args[0] as TableLimits);
    const table = this.#table;
    if (!table) throw new Error('open the table first');
    switch (method) {
      case 'advance':
        this.#clock.advance(args[0] as number);
        return undefined;
      case 'throwingListener':
        table.subscribe(() => {
          throw new Error('listener bug');
        });
        return undefined;
      case 'submit':
        this.#functions.add((args[0] as NewTask).function);
        break;
      case 'claim':
        this.#functions.add(args[0] as string);
        break;
    }
    const run = (table as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>)[method];
    if (typeof run !== 'function') throw new Error(`no method ${method}`);
    const value = await run.apply(table, args);
    if (method === 'replay') this.#functions.add((value as TaskRecord).function);
    return value;
  }

  #open(limits: TableLimits): void {
    const table = new SqlTaskTable(this.#sql, limits, {
      clock: this.#clock,
      random: HALF_JITTER,
      log: (message) => this.#events.push({ type: 'log', message }),
    });
    // Copies: what a listener heard is what the record was then.
    table.subscribe((record) =>
      this.#events.push({ type: 'change', record: structuredClone(record) }),
    );
    table.onAvailable((fn) => this.#events.push({ type: 'available', fn }));
    table.onCancel((id) => this.#events.push({ type: 'cancel', id }));
    this.#table = table;
  }
}

const isRecord = (value: unknown): value is TaskRecord =>
  typeof value === 'object' && value !== null && 'status' in value;

export default {
  async fetch(request: Request, env: HarnessEnv): Promise<Response> {
    const { table, method, args } = decode<HarnessCall>(await request.text());
    const stub = env.TABLES.get(env.TABLES.idFromName(table)) as unknown as TableHarness;
    return new Response(encode(await stub.call(method, args)));
  },
};
