import { describe, expect, it } from 'vitest';
import { DEFAULTS } from '../options.ts';
import {
  type Decision,
  decide,
  loadRatio,
  type PoolSample,
  type PressureSample,
  type Samples,
  type ScalerState,
} from './scaler.ts';

const options = { ...DEFAULTS };

const pool = (over: Partial<PoolSample> = {}): PoolSample => ({
  name: 'f',
  workers: 2,
  starting: 0,
  idle: 0,
  active: 0,
  queued: 0,
  minWorkers: 2,
  maxWorkers: 20,
  concurrency: 1,
  avgTaskMs: 0,
  ...over,
});

const calm: PressureSample = { lagMs: 1, elu: 0.1, memory: 0.2, cpu: 0.1, cores: 8 };

const samples = (pools: PoolSample[], over: Partial<Samples> = {}): Samples => ({
  at: 100_000,
  trigger: 'tick',
  pools,
  pressure: calm,
  budget: { max: 20, used: pools.reduce((n, p) => n + p.workers, 0) },
  ...over,
});

const one = (s: Samples, state: ScalerState = {}, o = options): Decision => {
  const [decision] = decide(s, state, o).decisions;
  if (!decision) throw new Error('no decision');
  return decision;
};

describe('load ratio', () => {
  it('Should be (active + queued) / (workers × concurrency)', () => {
    expect(loadRatio(pool({ workers: 4, active: 2, queued: 1 }))).toBe(0.75);
    expect(loadRatio(pool({ workers: 2, concurrency: 4, active: 8, queued: 8 }))).toBe(2);
  });

  it('Should be infinite for work without a worker, and 0 for an empty pool', () => {
    expect(loadRatio(pool({ workers: 0, queued: 1 }))).toBe(Number.POSITIVE_INFINITY);
    expect(loadRatio(pool({ workers: 0 }))).toBe(0);
  });
});

describe('scale up (the seed: above 0.8 add 2)', () => {
  it('Should add 2 when the load passes the up threshold', () => {
    const d = one(samples([pool({ active: 2, queued: 2 })]));
    expect(d).toMatchObject({ action: 'up', from: 2, to: 4, notable: true });
    expect(d.reason).toMatch(/load 2\.00 > 0\.8/);
  });

  it('Should hold at exactly the threshold and between the thresholds', () => {
    expect(one(samples([pool({ workers: 5, active: 4 })])).action).toBe('hold');
    expect(one(samples([pool({ workers: 4, active: 2 })])).action).toBe('hold');
  });

  it('Should add only what brings the load back under the threshold when that is less', () => {
    // 2 busy workers and nothing waiting: load 1.0, one more worker gives 0.67.
    expect(one(samples([pool({ active: 2 })]))).toMatchObject({ action: 'up', to: 3 });
  });

  it('Should double a pool at most when a burst needs more than 2', () => {
    expect(one(samples([pool({ active: 2, queued: 100 })]))).toMatchObject({ to: 4 });
    expect(one(samples([pool({ workers: 8, active: 8, queued: 100 })]))).toMatchObject({
      to: 16,
    });
  });

  it('Should count a worker’s concurrency as capacity', () => {
    expect(one(samples([pool({ workers: 2, concurrency: 16, active: 20 })])).action).toBe('hold');
    expect(
      one(samples([pool({ workers: 2, concurrency: 16, active: 32, queued: 10 })])).action,
    ).toBe('up');
  });

  it('Should never pass the pool’s maxWorkers', () => {
    expect(
      one(samples([pool({ workers: 7, maxWorkers: 8, active: 7, queued: 50 })])),
    ).toMatchObject({ action: 'up', to: 8 });
    const held = one(samples([pool({ workers: 8, maxWorkers: 8, active: 8, queued: 50 })]));
    expect(held).toMatchObject({ action: 'hold', to: 8, notable: true });
    expect(held.reason).toMatch(/at its maxWorkers \(8\)/);
  });

  it('Should never pass the runtime’s ceiling over all pools', () => {
    const s = samples([pool({ workers: 6, active: 6, queued: 50 })], {
      budget: { max: 20, used: 19 },
    });
    expect(one(s)).toMatchObject({ action: 'up', to: 7 });
    const full = one(
      samples([pool({ workers: 6, active: 6, queued: 50 })], { budget: { max: 20, used: 20 } }),
    );
    expect(full.action).toBe('hold');
    expect(full.reason).toMatch(/maxWorkers \(20\) are in use/);
  });

  it('Should start a pool that scaled to zero when work arrives (a cold start)', () => {
    const d = one(samples([pool({ workers: 0, minWorkers: 0, queued: 1 })]));
    expect(d).toMatchObject({ action: 'up', from: 0 });
    expect(d.to).toBeGreaterThanOrEqual(1);
  });

  it('Should not spawn when the queue clears before a new worker could start', () => {
    const d = one(samples([pool({ active: 2, queued: 10, avgTaskMs: 0.5, coldStartMs: 40 })]));
    expect(d.action).toBe('hold');
    expect(d.reason).toMatch(/queue clears in about 3 ms, before a new worker would start/);
    const slow = one(samples([pool({ active: 2, queued: 10, avgTaskMs: 500, coldStartMs: 40 })]));
    expect(slow.action).toBe('up');
  });
});

describe('pressure holds scale-up', () => {
  const loaded = [pool({ active: 2, queued: 10 })];

  it('Should hold while the event loop lags', () => {
    const d = one(samples(loaded, { pressure: { ...calm, lagMs: 450 } }));
    expect(d).toMatchObject({ action: 'hold', to: 2, notable: true });
    expect(d.reason).toMatch(/event loop lags 450 ms \(limit 200\)/);
  });

  it('Should hold while the event loop is too busy, where that is measured', () => {
    const d = one(samples(loaded, { pressure: { ...calm, elu: 0.97 } }));
    expect(d.reason).toMatch(/event loop is 97% busy/);
    const { elu: _, ...noElu } = calm;
    expect(one(samples(loaded, { pressure: noElu })).action).toBe('up');
  });

  it('Should hold while memory is high', () => {
    const d = one(samples(loaded, { pressure: { ...calm, memory: 0.9 } }));
    expect(d).toMatchObject({ action: 'hold' });
    expect(d.reason).toMatch(/memory at 90% \(limit 85%\)/);
  });

  it('Should not add CPU-bound workers past the cores', () => {
    const cpu = { ...calm, cores: 2 };
    const busy = pool({ workers: 2, active: 2, queued: 10, measured: 2, cpuBusy: 2 });
    const d = one(samples([busy], { pressure: cpu }));
    expect(d.action).toBe('hold');
    expect(d.reason).toMatch(/2 CPU-bound workers busy or starting on 2 cores/);
    const half = pool({
      workers: 1,
      minWorkers: 1,
      active: 1,
      queued: 10,
      measured: 1,
      cpuBusy: 1,
    });
    expect(one(samples([half], { pressure: cpu }))).toMatchObject({ action: 'up', to: 2 });
  });

  it('Should count CPU-bound workers of other pools against the cores', () => {
    const a = pool({ name: 'a', workers: 3, active: 3, idle: 0, measured: 3, cpuBusy: 3 });
    const b = pool({
      name: 'b',
      workers: 1,
      minWorkers: 1,
      active: 1,
      queued: 5,
      measured: 1,
      cpuBusy: 1,
    });
    const plan = decide(samples([a, b], { pressure: { ...calm, cores: 4 } }), {}, options);
    expect(plan.decisions.find((d) => d.function === 'b')?.action).toBe('hold');
  });

  it('Should let I/O-bound pools grow while CPU-bound workers fill the cores', () => {
    const io = pool({ workers: 2, active: 2, queued: 10, measured: 2, cpuBusy: 0 });
    expect(one(samples([io], { pressure: { ...calm, cores: 1 } })).action).toBe('up');
  });

  it('Should remember that a pool is CPU-bound while none of its workers is measured', () => {
    const first = decide(
      samples([pool({ workers: 2, active: 2, measured: 2, cpuBusy: 2 })]),
      {},
      options,
    );
    expect(first.state.f?.cpuBound).toBe(true);
    const later = one(
      samples([pool({ workers: 2, starting: 2, queued: 10 })], { pressure: { ...calm, cores: 2 } }),
      first.state,
    );
    expect(later.action).toBe('hold');
  });

  it('Should not apply the CPU fallback to an unmeasured pool when the host measures workers', () => {
    const pressure = { ...calm, cpu: 0.95, workersMeasured: true };
    expect(one(samples([pool({ active: 2, queued: 10 })], { pressure })).action).toBe('up');
  });

  it('Should fall back to the process’s CPU use when the host cannot tell CPU-bound workers', () => {
    const d = one(samples([pool({ active: 2, queued: 10 })], { pressure: { ...calm, cpu: 0.95 } }));
    expect(d.action).toBe('hold');
    expect(d.reason).toMatch(/process uses 95% of the CPU/);
  });
});

describe('scale down (the seed: below 0.3 remove 1), with a cool-down against flapping', () => {
  const low = pool({ workers: 6, idle: 5, active: 1 });

  it('Should not retire a worker the first time the load is low', () => {
    const plan = decide(samples([low]), {}, options);
    expect(plan.decisions[0]).toMatchObject({ action: 'hold', notable: false });
    expect(plan.state.f?.lowSince).toBe(100_000);
  });

  it('Should retire one worker once the load stayed low for scaleDownDelayMs', () => {
    const state = { f: { lowSince: 100_000 - options.scaleDownDelayMs } };
    const d = one(samples([low]), state);
    expect(d).toMatchObject({ action: 'down', from: 6, to: 5 });
    expect(d.reason).toMatch(/< 0\.3 for 10000 ms: -1/);
  });

  it('Should hold while the low spell is shorter than scaleDownDelayMs', () => {
    const state = { f: { lowSince: 100_000 - options.scaleDownDelayMs + 500 } };
    const d = one(samples([low]), state);
    expect(d).toMatchObject({ action: 'hold', notable: false });
    expect(d.reason).toMatch(/for 9500 of 10000 ms/);
  });

  it('Should wait scaleDownDelayMs after its last scale-up', () => {
    const state = { f: { lowSince: 0, lastUpAt: 100_000 - 1000 } };
    expect(one(samples([low]), state).action).toBe('hold');
  });

  it('Should forget a low spell when the load comes back', () => {
    const plan = decide(
      samples([pool({ workers: 6, active: 3 })]),
      { f: { lowSince: 0 } },
      options,
    );
    expect(plan.decisions[0]?.action).toBe('hold');
    expect(plan.state.f?.lowSince).toBeUndefined();
  });

  it('Should never go below minWorkers', () => {
    const d = one(samples([pool({ workers: 2, idle: 2 })]), { f: { lowSince: 0 } });
    expect(d).toMatchObject({ action: 'hold', to: 2 });
    expect(d.reason).toMatch(/at its minWorkers \(2\)/);
  });

  it('Should scale a pool with minWorkers 0 down to zero', () => {
    const d = one(samples([pool({ workers: 1, idle: 1, minWorkers: 0 })]), { f: { lowSince: 0 } });
    expect(d).toMatchObject({ action: 'down', from: 1, to: 0 });
  });

  it('Should not oscillate under a steady load', () => {
    // 5 tasks arrive and run steadily; evaluate every second for a minute.
    let state: ScalerState = {};
    let workers = 2;
    const changes: string[] = [];
    for (let t = 0; t < 60; t++) {
      const s = samples(
        [pool({ workers, active: Math.min(5, workers), queued: Math.max(0, 5 - workers) })],
        {
          at: t * 1000,
        },
      );
      const plan = decide(s, state, options);
      state = plan.state;
      const d = plan.decisions[0] as Decision;
      if (d.action !== 'hold') changes.push(`${d.action} ${d.from}->${d.to}`);
      workers = d.to;
    }
    expect(changes).toEqual(['up 2->4', 'up 4->7']);
  });

  it('Should shrink under memory pressure without waiting, down to the minimum', () => {
    const pressure = { ...calm, memory: 0.97 };
    const d = one(samples([pool({ workers: 4, active: 2 })], { pressure }));
    expect(d).toMatchObject({ action: 'down', to: 3 });
    expect(d.reason).toMatch(/memory at 97% \(limit 95%\)/);
    expect(one(samples([pool({ workers: 2, active: 2 })], { pressure })).action).toBe('hold');
  });
});

describe('many pools under one ceiling (fair share)', () => {
  it('Should let one pool take the free room, then idle workers, while no other pool waits', () => {
    const burst = pool({ name: 'burst', workers: 10, active: 10, queued: 100 });
    const quiet = pool({ name: 'quiet', workers: 2, idle: 2 });
    const plan = decide(samples([burst, quiet]), {}, options);
    expect(plan.decisions[0]).toMatchObject({ action: 'up', to: 20, awaitsRoom: 2 });
    expect(plan.decisions[1]).toMatchObject({ action: 'down', to: 0, idleOnly: true });
  });

  it('Should serve a waiting pool below its fair share before one above it', () => {
    const big = pool({ name: 'big', workers: 14, active: 14, queued: 100 });
    const small = pool({ name: 'small', workers: 2, active: 2, queued: 10 });
    // 4 slots free, fair share 10 each: small doubles first, the 2 left stay reserved for it.
    const plan = decide(samples([big, small]), {}, options);
    const byName = Object.fromEntries(plan.decisions.map((d) => [d.function, d]));
    expect(byName.small).toMatchObject({ action: 'up', to: 4 });
    expect(byName.big).toMatchObject({ action: 'hold' });
    expect(byName.big?.reason).toMatch(/last 2 free workers are kept for pools below their fair/);
  });

  it('Should let a pool above its share use room no waiting pool needs', () => {
    const big = pool({ name: 'big', workers: 12, active: 12, queued: 100 });
    const small = pool({ name: 'small', workers: 2, active: 2, queued: 1 });
    const plan = decide(samples([big, small]), {}, options);
    const byName = Object.fromEntries(plan.decisions.map((d) => [d.function, d]));
    expect(byName.small).toMatchObject({ action: 'up', to: 4 });
    expect(byName.big).toMatchObject({ action: 'up', to: 16 });
  });

  it('Should take workers back from a pool above its share when another waits with none free', () => {
    const big = pool({ name: 'big', workers: 19, active: 19, queued: 100 });
    const cold = pool({ name: 'cold', workers: 1, minWorkers: 0, active: 1, queued: 3 });
    const plan = decide(samples([big, cold]), {}, options);
    const byName = Object.fromEntries(plan.decisions.map((d) => [d.function, d]));
    expect(byName.cold?.action).toBe('hold');
    expect(byName.big).toMatchObject({ action: 'down', from: 19 });
    expect(byName.big?.to).toBeGreaterThanOrEqual(10);
    expect(byName.big?.to).toBeLessThan(19);
    expect(byName.big?.reason).toMatch(/cold waits with 1 of its fair share of 10/);
  });

  it('Should not take workers back for a pool whose tasks all run', () => {
    const big = pool({ name: 'big', workers: 19, active: 19, queued: 100 });
    const busy = pool({ name: 'busy', workers: 1, minWorkers: 0, active: 1 });
    const plan = decide(samples([big, busy]), {}, options);
    expect(plan.decisions.map((d) => d.action)).toEqual(['hold', 'hold']);
  });

  it('Should never take a donor below its minimum', () => {
    const a = pool({ name: 'a', workers: 3, minWorkers: 3, active: 3, queued: 5 });
    const b = pool({ name: 'b', workers: 1, minWorkers: 1, active: 1, queued: 5 });
    const plan = decide(samples([a, b], { budget: { max: 4, used: 4 } }), {}, options);
    expect(plan.decisions.every((d) => d.action === 'hold')).toBe(true);
  });
});

describe('sharing the ceiling (contract v2): minimums hold only while there is room', () => {
  const full = (pools: PoolSample[]) =>
    samples(pools, { budget: { max: pools.reduce((n, p) => n + p.workers, 0), used: 0 } });
  const atCeiling = (pools: PoolSample[]) => {
    const used = pools.reduce((n, p) => n + p.workers, 0);
    return samples(pools, { budget: { max: used, used } });
  };

  it('Should retire idle workers of other pools, longest idle first, for a pool with queued work', () => {
    const loaded = pool({ name: 'loaded', workers: 1, minWorkers: 2, active: 1, queued: 100 });
    const a = pool({ name: 'a', workers: 2, idle: 2, idleSince: [500, 900] });
    const b = pool({ name: 'b', workers: 2, idle: 2, idleSince: [100, 800] });
    const plan = decide(atCeiling([loaded, a, b]), {}, options);
    const byName = Object.fromEntries(plan.decisions.map((d) => [d.function, d]));
    // +2 by the seed's rule, both in place of idle workers: b's at 100 and a's at 500.
    expect(byName.loaded).toMatchObject({ action: 'up', from: 1, to: 3, awaitsRoom: 2 });
    expect(byName.a).toMatchObject({ action: 'down', from: 2, to: 1, idleOnly: true });
    expect(byName.b).toMatchObject({ action: 'down', from: 2, to: 1, idleOnly: true });
    expect(byName.b?.reason).toMatch(/retires 1 idle worker \(1 to loaded\)/);
    expect(plan.decisions.filter((d) => d.action === 'down')).toHaveLength(2);
    expect(full([loaded, a, b]).budget.max).toBe(5);
  });

  it('Should take a donor below its minimum when that is where the idle workers are', () => {
    const loaded = pool({ name: 'loaded', workers: 0, minWorkers: 0, queued: 10 });
    const donor = pool({ name: 'donor', workers: 2, minWorkers: 2, idle: 2, idleSince: [1, 2] });
    const plan = decide(atCeiling([loaded, donor]), {}, options);
    expect(plan.decisions[0]).toMatchObject({ action: 'up', to: 2, awaitsRoom: 2 });
    expect(plan.decisions[1]).toMatchObject({ action: 'down', from: 2, to: 0, idleOnly: true });
  });

  it('Should never take a busy worker, nor one of a pool with work queued', () => {
    const loaded = pool({ name: 'loaded', workers: 1, active: 1, queued: 50 });
    const busy = pool({ name: 'busy', workers: 2, active: 2 });
    const waiting = pool({ name: 'waiting', workers: 2, idle: 1, active: 1, queued: 1 });
    const plan = decide(atCeiling([loaded, busy, waiting]), {}, options);
    expect(plan.decisions.some((d) => d.idleOnly)).toBe(false);
    expect(plan.decisions[0]).toMatchObject({ action: 'hold', cause: 'ceiling' });
    expect(plan.decisions[0]?.reason).toMatch(/maxWorkers \(5\) are in use by busy workers/);
  });

  it('Should use free room before taking idle workers', () => {
    const loaded = pool({ name: 'loaded', workers: 2, active: 2, queued: 100 });
    const idle = pool({ name: 'idle', workers: 2, idle: 2, idleSince: [1, 2] });
    const plan = decide(samples([loaded, idle], { budget: { max: 5, used: 4 } }), {}, options);
    expect(plan.decisions[0]).toMatchObject({ action: 'up', from: 2, to: 4, awaitsRoom: 1 });
    expect(plan.decisions[1]).toMatchObject({ action: 'down', to: 1, idleOnly: true });
  });

  it('Should not take idle workers past what the cores allow a CPU-bound pool', () => {
    const pressure = { ...calm, cores: 2 };
    const loaded = pool({
      name: 'loaded',
      workers: 1,
      active: 1,
      queued: 200,
      measured: 1,
      cpuBusy: 1,
    });
    const idle = pool({ name: 'idle', workers: 3, idle: 3, idleSince: [1, 2, 3] });
    const s = samples([loaded, idle], { pressure, budget: { max: 4, used: 4 } });
    const plan = decide(s, {}, options);
    expect(plan.decisions[0]).toMatchObject({ action: 'up', to: 2, awaitsRoom: 1 });
    expect(plan.decisions[1]).toMatchObject({ action: 'down', from: 3, to: 2 });
  });
});
