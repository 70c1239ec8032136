/**
 * One worker's record on its own, over an in-process worker and a manual clock: how often it
 * tells its pool that it drained (each `drained` makes the pool refill the worker and may retire
 * it, so it must come exactly once per result, and once per batch that could not be sent); and,
 * over a worker that lies, that the deadline and the stop are its own word, not the worker's.
 */
import { type Endpoint, expose } from 'comlink';
import { describe, expect, it } from 'vitest';
import { flush, until } from '../../test/support/in-process.ts';
import { inProcessHost } from '../host/in-process.ts';
import { ManualClock } from '../time/manual-clock.ts';
import { WITHDRAWN } from '../worker/protocol.ts';
import type { SpawnedWorker } from '../worker-host.ts';
import { Lease } from './lease.ts';
import { Task } from './task.ts';
import { type HandleEvents, WITHDRAW_CONFIRM_MS, WorkerHandle } from './worker-handle.ts';

/** A started worker of an `echo` module whose events are only counted. */
const startHandle = async (lease?: Lease) => {
  const host = inProcessHost({ load: async () => ({ default: (x: unknown) => x }) });
  const entry = { name: 'echo', url: 'memory:echo' };
  const count = { outcome: 0, unsendable: 0, drained: 0, dead: 0 };
  const events: HandleEvents = {
    outcome: () => count.outcome++,
    unsendable: () => count.unsendable++,
    drained: () => count.drained++,
    timedOut: () => {},
    dead: () => count.dead++,
  };
  const clock = new ManualClock();
  const handle = new WorkerHandle(
    1,
    host.spawn({ entry }, { workerId: 1, memoryLimitMb: 64 }),
    events,
    clock,
    lease,
  );
  await handle.start(4, 1_000);
  return { handle, count, clock, host };
};

const task = (n: number, args: unknown[] = [n]) =>
  new Task({ id: `t${n}`, function: 'echo', args, timeoutMs: 1_000, attempt: 1, submittedAt: 0 });

describe('a worker handle', () => {
  it('Should tell its pool it drained once per result', async () => {
    const { handle, count } = await startHandle();
    handle.send([task(1), task(2), task(3)]);
    await until('three outcomes', () => count.outcome === 3);
    await flush();
    expect(count.drained).toBe(3);
    handle.send([task(4)]);
    await until('the fourth outcome', () => count.outcome === 4);
    await flush();
    expect(count.drained).toBe(4);
    expect(handle.load).toBe(0);
    await handle.stop('done');
  });

  it('Should tell its pool it drained once for a batch that could not be sent', async () => {
    const { handle, count } = await startHandle();
    // A function cannot be cloned onto the port: the whole batch comes back unsent.
    handle.send([task(1, [() => 1]), task(2, [() => 2])]);
    expect(count.unsendable).toBe(2);
    expect(count.drained).toBe(1);
    expect(handle.load).toBe(0);
    await handle.stop('done');
  });

  it('Should give its lease back the moment it is gone, and only once', async () => {
    let returned = 0;
    const lease = new Lease(() => returned++);
    const { handle, count, clock, host } = await startHandle(lease);
    handle.send([task(1)]);
    await until('the outcome', () => count.outcome === 1);
    expect(returned).toBe(0);
    host.workers[0]?.crash();
    // Free at once, before the pool hears of the death (late outcomes may still come).
    expect([returned, lease.held, count.dead]).toEqual([1, false, 0]);
    clock.advance(10);
    expect(count.dead).toBe(1);
    await handle.stop('again');
    expect(returned).toBe(1);
  });
});

/**
 * A worker that speaks the protocol but lies: it keeps the timing table and the results port,
 * writes what the test says, and posts only what the test posts. What the handle decides then
 * rests on its own clock alone.
 */
const lyingWorker = () => {
  const channel = new MessageChannel();
  const seen = {
    table: undefined as Float64Array | undefined,
    port: undefined as MessagePort | undefined,
  };
  const received: unknown[] = [];
  let terminated = 0;
  expose(
    {
      async init(buffer: SharedArrayBuffer, _concurrency: number, port: MessagePort) {
        seen.table = new Float64Array(buffer);
        seen.port = port;
        port.onmessage = (event) => received.push(event.data);
        return { config: undefined, exports: { default: true, fetch: false } };
      },
      run() {},
      skip() {},
    },
    channel.port2,
  );
  const worker: SpawnedWorker = {
    endpoint: channel.port1 as unknown as Endpoint,
    onExit: () => {},
    terminate: async () => {
      terminated++;
      channel.port1.close();
    },
  };
  return {
    worker,
    /** Write a slot's start cell, as a function that reached the table would. */
    writeStart: (slot: number, value: number) => {
      (seen.table as Float64Array)[slot * 2] = value;
    },
    startCell: (slot: number) => (seen.table as Float64Array)[slot * 2],
    post: (message: unknown) => seen.port?.postMessage(message),
    received,
    terminated: () => terminated,
  };
};

const lyingHandle = async () => {
  const fake = lyingWorker();
  const clock = new ManualClock();
  const log = {
    timedOut: [] as string[],
    dead: [] as { cause: string; code: string }[],
    drained: 0,
  };
  const events: HandleEvents = {
    outcome: () => {},
    unsendable: () => {},
    drained: () => log.drained++,
    timedOut: (task, handle) => {
      log.timedOut.push(task.id);
      void handle.stop(`timed out: ${task.id}`);
    },
    dead: (_handle, death) => log.dead.push(death),
  };
  const handle = new WorkerHandle(7, fake.worker, events, clock, undefined);
  await handle.start(1, 1_000);
  return { handle, fake, clock, log };
};

/** A dead worker's last outcomes are waited for this long at most (worker-handle.ts). */
const LATE_OUTCOME_MS = 2_000;

/** The slot a task was sent in: the handle takes free slots from the top. */
const FIRST_SLOT = 0;

describe('a worker handle, whatever its worker writes', () => {
  it.each([
    ['never written', 0],
    ['far in the future', Number.MAX_SAFE_INTEGER],
    ['not a number', Number.NaN],
    ['before it was sent', 1],
  ])('Should time a task out at its send time plus its timeout, its start %s', async (_, start) => {
    const { handle, fake, clock, log } = await lyingHandle();
    handle.send([task(1)]);
    fake.writeStart(FIRST_SLOT, start);
    clock.advance(999);
    expect(log.timedOut).toEqual([]);
    clock.advance(1);
    expect(log.timedOut).toEqual(['t1']);
    await until('the worker to stop', () => fake.terminated() === 1);
  });

  it('Should start a queued task’s clock no later than the deadline of the task ahead', async () => {
    const { handle, fake, clock, log } = await lyingHandle();
    handle.send([task(1)]);
    fake.writeStart(FIRST_SLOT, clock.now());
    clock.advance(100);
    // Sent behind task 1: it can have begun at the latest when task 1's deadline passed.
    handle.send([task(2)]);
    const second = 1;
    fake.writeStart(second, Number.MAX_SAFE_INTEGER);
    clock.advance(800);
    fake.post([FIRST_SLOT, true, null, clock.now() - 900, 800]);
    await until('task 1 to end', () => handle.load === 1);
    clock.advance(1_099);
    expect(log.timedOut).toEqual([]);
    clock.advance(1);
    expect(log.timedOut).toEqual(['t2']);
  });

  it('Should mark a withdrawn task in its start cell and keep a worker that confirms it never began', async () => {
    const { handle, fake, log } = await lyingHandle();
    const t = task(1);
    handle.send([t]);
    expect(handle.withdraw(t)).toBe(true);
    expect(fake.startCell(FIRST_SLOT)).toBe(WITHDRAWN);
    await until('the skip to arrive', () => fake.received.length === 2);
    expect(fake.received[1]).toEqual({ skip: FIRST_SLOT });
    expect(handle.load).toBe(1);
    fake.post([FIRST_SLOT, false, 'withdrawn', 0, 0, 'withdrawn']);
    await until('the slot to come free', () => handle.load === 0);
    expect(log.drained).toBe(1);
    expect([fake.terminated(), handle.state]).toEqual([0, 'ready']);
  });

  it('Should stop a worker that says a withdrawn task began, or sends its outcome', async () => {
    for (const reply of [
      [FIRST_SLOT, false, 'began', 0, 0, 'began'],
      [FIRST_SLOT, true, 'a result', 0, 5],
    ]) {
      const { handle, fake, clock, log } = await lyingHandle();
      const t = task(1);
      handle.send([t]);
      t.cancel();
      expect(handle.withdraw(t)).toBe(true);
      fake.post(reply);
      await until('the worker to stop', () => fake.terminated() === 1);
      // Outcomes posted just before a death are waited for (bounded) before it is told.
      clock.advance(LATE_OUTCOME_MS);
      expect(log.dead[0]?.cause).toMatch(/task t1 was cancelled after it began/);
      expect(fake.terminated()).toBe(1);
    }
  });

  it('Should stop a worker that never confirms a withdrawal, once the task could have begun', async () => {
    const { handle, fake, clock, log } = await lyingHandle();
    const ahead = task(1);
    const behind = task(2);
    handle.send([ahead, behind]);
    behind.cancel();
    expect(handle.withdraw(behind)).toBe(true);
    // It may wait behind task 1 (1 s), then confirm within WITHDRAW_CONFIRM_MS.
    fake.post([FIRST_SLOT, true, 1, clock.now(), 1]);
    await until('task 1 to end', () => handle.load === 1);
    clock.advance(1_000 + WITHDRAW_CONFIRM_MS - 1);
    expect(fake.terminated()).toBe(0);
    clock.advance(1);
    await until('the worker to stop', () => fake.terminated() === 1);
    clock.advance(LATE_OUTCOME_MS);
    expect(log.dead[0]?.cause).toMatch(/did not confirm/);
    expect(log.timedOut).toEqual([]);
  });

  it('Should refuse to withdraw a task its worker says has begun: the caller stops it', async () => {
    const { handle, fake, clock } = await lyingHandle();
    const t = task(1);
    handle.send([t]);
    fake.writeStart(FIRST_SLOT, clock.now());
    expect(handle.withdraw(t)).toBe(false);
  });

  it('Should stop a worker that reports its heap and buffers over the limit, as out of memory', async () => {
    const { handle, fake, clock, log } = await lyingHandle();
    handle.send([task(1)]);
    fake.post({ memoryBytes: 900 * 1024 * 1024, limitMb: 64 });
    await until('the worker to stop', () => fake.terminated() === 1);
    clock.advance(LATE_OUTCOME_MS);
    expect(log.dead[0]).toEqual({
      cause:
        'the worker ran out of memory (limit 64 MiB): its JavaScript heap and buffers used 900 MiB',
      code: 'out_of_memory',
    });
  });
});

describe('a worker, asked to skip a task it holds', () => {
  /** A real (in-process) worker of a module whose calls wait on gates the test opens. */
  const gated = async () => {
    const gates: Array<() => void> = [];
    const ran: unknown[] = [];
    const host = inProcessHost({
      load: async () => ({
        default: (x: unknown) => {
          ran.push(x);
          return new Promise<unknown>((resolve) => gates.push(() => resolve(x)));
        },
      }),
    });
    const outcomes: unknown[] = [];
    const clock = new ManualClock();
    const events: HandleEvents = {
      outcome: (t) => outcomes.push(t.id),
      unsendable: () => {},
      drained: () => {},
      timedOut: () => {},
      dead: () => {},
    };
    const handle = new WorkerHandle(
      1,
      host.spawn(
        { entry: { name: 'gated', url: 'memory:gated' } },
        { workerId: 1, memoryLimitMb: 64 },
      ),
      events,
      clock,
      undefined,
    );
    await handle.start(1, 1_000);
    return { handle, gates, ran, outcomes, host };
  };

  it('Should confirm a task withdrawn while it waits, and never run it', async () => {
    const { handle, gates, ran, outcomes } = await gated();
    const first = task(1);
    const second = task(2);
    handle.send([first, second]);
    await until('the first to run', () => ran.length === 1);
    second.cancel();
    expect(handle.withdraw(second)).toBe(true);
    await until('the second to be confirmed', () => handle.load === 1);
    gates[0]?.();
    await until('the first to end', () => outcomes.length === 1);
    await flush();
    expect(ran).toEqual([1]);
    expect(handle.state).toBe('ready');
  });

  it('Should skip a withdrawn task by its mark when it comes up before the word arrives', async () => {
    const { handle, gates, ran, outcomes } = await gated();
    const first = task(1);
    const second = task(2);
    handle.send([first, second]);
    await until('the first to run', () => ran.length === 1);
    second.cancel();
    expect(handle.withdraw(second)).toBe(true);
    // The first ends before the worker reads the skip: the second comes up and is skipped.
    gates[0]?.();
    await until('both to be settled', () => handle.load === 0);
    expect(ran).toEqual([1]);
    expect(outcomes).toEqual(['t1']);
    expect(handle.state).toBe('ready');
  });
});
