/**
 * A runtime over the in-process host and a manual clock, with function modules defined in the
 * test itself: no threads, no real time. `gate` functions end only when the test says so.
 */
import { inProcessHost } from '../../runtime/host/in-process.ts';
import {
  createRuntime,
  MemoryTaskBackend,
  type RuntimeOptions,
  type TaskBackend,
} from '../../runtime/index.ts';
import { ManualClock } from '../../runtime/time/manual-clock.ts';
import type { FunctionSource } from '../../runtime/worker-host.ts';

type Module = Record<string, unknown>;

/** Promises a test settles by key: `open(key)` is what a gated function returns. */
export class Gates {
  #waiting = new Map<string, { resolve(value: unknown): void; reject(error: unknown): void }>();
  /** Keys whose function has begun (in order). */
  readonly begun: string[] = [];

  open = (key: string): Promise<unknown> =>
    new Promise((resolve, reject) => {
      this.begun.push(key);
      this.#waiting.set(key, { resolve, reject });
    });

  resolve(key: string, value: unknown = key): void {
    const gate = this.#waiting.get(key);
    if (!gate) throw new Error(`gate ${key} has not begun`);
    this.#waiting.delete(key);
    gate.resolve(value);
  }

  reject(key: string, error: unknown): void {
    const gate = this.#waiting.get(key);
    if (!gate) throw new Error(`gate ${key} has not begun`);
    this.#waiting.delete(key);
    gate.reject(error);
  }
}

const source = (modules: Record<string, Module>): FunctionSource => ({
  async list() {
    const entries = Object.keys(modules)
      .sort()
      .map((name) => ({ name, url: `memory:${name}` }));
    return { entries, warnings: [] };
  },
});

/** Options that keep the scaler's pressure holds out of unit tests (the test process is busy). */
const CALM = {
  maxEventLoopLagMs: 1e9,
  maxEventLoopUtilization: 1,
  maxMemoryUsage: 1,
  shrinkMemoryUsage: 1,
  maxCpuUsage: 1,
} satisfies Partial<RuntimeOptions>;

/**
 * The in-memory backend seen only through the async `TaskBackend` interface (its synchronous
 * twins hidden), as a remote backend (Durable Object, Redis) would be: the pool's async paths.
 */
export const asyncOnly = (backend: MemoryTaskBackend): TaskBackend => ({
  submit: (task) => backend.submit(task),
  claim: (fn, max, workerId) => backend.claim(fn, max, workerId),
  finish: (id, ending) => backend.finish(id, ending),
  read: (id) => backend.read(id),
  wait: (id, ms) => backend.wait(id, ms),
  cancel: (id) => backend.cancel(id),
  list: (query) => backend.list(query),
  replay: (id, maxQueue) => backend.replay(id, maxQueue),
  expire: (now) => backend.expire(now),
  queued: (fn) => backend.queued(fn),
  onAvailable: (listener) => backend.onAvailable(listener),
  onCancel: (listener) => backend.onCancel(listener),
  subscribe: (listener) => backend.subscribe(listener),
  close: () => backend.close(),
});

export type BackendKind = 'memory' | 'async';

export const startInProcess = async (
  modules: Record<string, Module>,
  options: Partial<RuntimeOptions> = {},
  kind: BackendKind = 'memory',
) => {
  const clock = new ManualClock(Date.now());
  const backend =
    kind === 'async'
      ? asyncOnly(new MemoryTaskBackend({ ttlMs: 3_600_000, maxFinished: 10_000, clock }))
      : undefined;
  const host = inProcessHost({
    cores: 4,
    load: async (entry) => {
      const mod = modules[entry.name];
      if (!mod) throw new Error(`no module ${entry.name}`);
      return mod;
    },
  });
  const runtime = await createRuntime({
    source: source(modules),
    host,
    clock,
    backend,
    log: () => {},
    minWorkers: 1,
    ...CALM,
    ...options,
  });
  return { runtime, host, clock };
};

/**
 * Let messages between the pool and its in-process workers flow until `test` holds: turns of
 * the event loop, not time. Fails after `turns` turns.
 */
export const until = async (what: string, test: () => boolean, turns = 2000): Promise<void> => {
  for (let i = 0; i < turns; i++) {
    if (test()) return;
    await new Promise((resolve) => setImmediate(resolve));
  }
  if (!test()) throw new Error(`never happened: ${what}`);
};

/** Let pending messages flow for a few turns (to show that something does NOT happen). */
export const flush = async (turns = 20): Promise<void> => {
  for (let i = 0; i < turns; i++) await new Promise((resolve) => setImmediate(resolve));
};
