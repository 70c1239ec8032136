/**
 * The edge's task table as the contract suite drives it: `TableHarness` bundled and served by
 * Miniflare (workerd, SQLite-backed Durable Objects, offline), and on this side a `TaskBackend`
 * whose every call is one fetch to the object holding the table. What the table's listeners heard
 * during a call is told to this side's listeners before the call resolves; `queued(fn)` answers
 * from the counts the last answer carried.
 * @module
 */
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { Miniflare } from 'miniflare';
import type { TaskBackend, TaskListener } from '../../runtime/backend/contract.ts';
import { markReplayed } from '../../runtime/backend/idempotency.ts';
import { BackendListeners } from '../../runtime/backend/listeners.ts';
import type {
  ClaimedTask,
  NewTask,
  TaskEnding,
  TaskPage,
  TaskQuery,
  TaskRecord,
} from '../../runtime/types.ts';
import { unwrap } from '../answer.ts';
import type { TableLimits } from '../task-table.ts';
import type { HarnessReply } from './table-object.ts';
import { decode, encode } from './wire.ts';

/** The workerd the suite runs the tables in; `dispose` stops it. */
export interface EdgeTables {
  open(limits: TableLimits): Promise<EdgeTableClient>;
  dispose(): Promise<void>;
}

export const startEdgeTables = async (): Promise<EdgeTables> => {
  const bundled = await build({
    entryPoints: [fileURLToPath(new URL('./table-object.ts', import.meta.url))],
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    external: ['cloudflare:*'],
    write: false,
    logLevel: 'warning',
  });
  const mf = new Miniflare({
    modules: true,
    script: bundled.outputFiles[0]?.text ?? '',
    // No later than the bundled workerd's own date (docs: runtime facts).
    compatibilityDate: '2026-04-26',
    durableObjects: { TABLES: { className: 'TableHarness', useSQLite: true } },
  });
  const url = await mf.ready;
  let tables = 0;
  return {
    open: async (limits) => {
      const client = new EdgeTableClient(url, `table-${++tables}`);
      await client.call('open', [limits]);
      return client;
    },
    dispose: () => mf.dispose(),
  };
};

export class EdgeTableClient implements TaskBackend {
  /** What the table logged (a listener that threw). */
  readonly logged: string[] = [];
  #url: URL;
  #name: string;
  #listeners = new BackendListeners((message) => this.logged.push(message));
  #queued: Record<string, number> = {};
  #now = 0;

  constructor(url: URL, name: string) {
    this.#url = url;
    this.#name = name;
  }

  /** The table's manual clock, as of the last answer. */
  now(): number {
    return this.#now;
  }

  /** Move the table's clock on by `ms`, firing its timers. */
  async advance(ms: number): Promise<void> {
    await this.call('advance', [ms]);
  }

  /** Add, inside the object, a subscriber that throws. */
  async throwingListener(): Promise<void> {
    await this.call('throwingListener', []);
  }

  async call<T>(method: string, args: unknown[]): Promise<T> {
    const response = await fetch(this.#url, {
      method: 'POST',
      body: encode({ table: this.#name, method, args }),
    });
    if (!response.ok)
      throw new Error(`the harness answered ${response.status}: ${await response.text()}`);
    const reply = decode<HarnessReply>(await response.text());
    this.#now = reply.now;
    Object.assign(this.#queued, reply.queued);
    for (const event of reply.events) {
      if (event.type === 'change') this.#listeners.changed(event.record);
      else if (event.type === 'available') this.#listeners.available(event.fn);
      else if (event.type === 'cancel') this.#listeners.cancelled(event.id);
      else this.logged.push(event.message);
    }
    const value = unwrap(reply.answer) as T;
    return reply.replayed ? (markReplayed(value as TaskRecord) as T) : value;
  }

  submit(task: NewTask): Promise<TaskRecord> {
    return this.call('submit', [task]);
  }
  claim(fn: string, max: number, workerId: number): Promise<ClaimedTask[]> {
    return this.call('claim', [fn, max, workerId]);
  }
  finish(id: string, ending: TaskEnding): Promise<void> {
    return this.call('finish', [id, ending]);
  }
  read(id: string): Promise<TaskRecord | undefined> {
    return this.call('read', [id]);
  }
  wait(id: string, ms: number): Promise<TaskRecord | undefined> {
    return this.call('wait', [id, ms]);
  }
  cancel(id: string): Promise<TaskRecord> {
    return this.call('cancel', [id]);
  }
  list(query: TaskQuery): Promise<TaskPage> {
    return this.call('list', [query]);
  }
  replay(id: string, maxQueue: number): Promise<TaskRecord> {
    return this.call('replay', [id, maxQueue]);
  }
  expire(now: number): Promise<void> {
    return this.call('expire', [now]);
  }
  queued(fn: string): number {
    return this.#queued[fn] ?? 0;
  }
  onAvailable(listener: (fn: string) => void): void {
    this.#listeners.onAvailable(listener);
  }
  onCancel(listener: (id: string) => void): void {
    this.#listeners.onCancel(listener);
  }
  subscribe(listener: TaskListener): () => void {
    return this.#listeners.subscribe(listener);
  }
  async close(): Promise<void> {
    await this.call('close', []);
  }
}
