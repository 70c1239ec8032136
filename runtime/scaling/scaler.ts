/**
 * The auto-scaler's policy as a pure function: samples of every pool and of the process's
 * pressure, the state kept between evaluations, and the options go in; one decision per pool,
 * each with a reason a person can read, comes out. No timers, no threads: `monitor.ts` feeds it.
 *
 * The seed's rule, per function pool: load = (active + queued) / (workers × concurrency); above
 * `scaleUpThreshold` add `scaleUpStep` workers, below `scaleDownThreshold` retire
 * `scaleDownStep`, always within the pool's min/max. docs/scaling.md explains the refinements:
 * burst sizing, the fair share under the global ceiling, pressure holds and the down cool-down.
 * @module
 */

/** One function pool as the monitor saw it. */
export interface PoolSample {
  name: string;
  /** Live workers, starting ones included, retiring ones not. */
  workers: number;
  /** Workers still loading the module. */
  starting: number;
  /** Ready workers with nothing in flight. */
  idle: number;
  /** Tasks in flight on its workers. */
  active: number;
  /** Tasks waiting for a worker. */
  queued: number;
  minWorkers: number;
  maxWorkers: number;
  /** Tasks one worker runs at once. */
  concurrency: number;
  /** Busy workers whose event loop was at least `cpuBoundUtilization` busy in the window. */
  cpuBusy?: number;
  /** Busy workers the host could measure (the denominator of `cpuBusy`); absent: no measure. */
  measured?: number;
  /** Mean run time of its finished tasks in ms (0: none yet). */
  avgTaskMs: number;
  /** The last measured spawn-to-ready time of one of its workers in ms. */
  coldStartMs?: number;
  /** When each of its idle workers went idle (epoch ms), for longest-idle-first reclaiming. */
  idleSince?: number[];
}

/** What the process and machine felt like during the window. */
export interface PressureSample {
  /** Smoothed lateness of a timer on the main event loop, in ms. */
  lagMs: number;
  /** Main event-loop utilization 0-1, where the host measures it for real. */
  elu?: number;
  /** Memory in use, 0-1 of what the process may use. */
  memory?: number;
  /** CPU used by the process, 0-1 of all cores. */
  cpu?: number;
  /** Cores the process may use. */
  cores: number;
  /**
   * Whether the host measures each worker's utilization. Then a pool with no measurement yet
   * counts as not CPU-bound; otherwise the process's CPU use stands in (`maxCpuUsage`).
   */
  workersMeasured?: boolean;
}

export interface Samples {
  at: number;
  /** What started this evaluation: the periodic tick, or a queue that builds. */
  trigger: 'tick' | 'backlog';
  pools: PoolSample[];
  pressure: PressureSample;
  /** The runtime's ceiling over all pools and how much of it is taken (retiring workers too). */
  budget: { max: number; used: number };
}

/** What the policy remembers about one pool between evaluations. */
export interface PoolState {
  /** Since when its load has stayed below the down threshold. */
  lowSince?: number;
  lastUpAt?: number;
  /** Whether its busy workers burned CPU when last measured. */
  cpuBound?: boolean;
}

export type ScalerState = Readonly<Record<string, PoolState>>;

export interface ScalerOptions {
  scaleUpThreshold: number;
  scaleDownThreshold: number;
  scaleUpStep: number;
  scaleDownStep: number;
  scaleDownDelayMs: number;
  maxEventLoopLagMs: number;
  maxEventLoopUtilization: number;
  maxMemoryUsage: number;
  shrinkMemoryUsage: number;
  maxCpuUsage: number;
  cpuBoundUtilization: number;
}

export interface Decision {
  function: string;
  action: 'up' | 'down' | 'hold';
  from: number;
  to: number;
  /** The load ratio it was decided on. */
  load: number;
  reason: string;
  /** Worth a line in the decisions log: every change, and a hold that keeps a loaded pool back. */
  notable: boolean;
  /** For a hold, what held it, as a key (the same cause logs once, not at every evaluation). */
  cause?: HoldCause;
  /** A `down` that retires idle workers only, possibly below the pool's minimum (reclaim). */
  idleOnly?: boolean;
  /** Of an `up`, the workers that start once idle workers retired elsewhere give their room. */
  awaitsRoom?: number;
}

export type HoldCause = 'pool_max' | 'pressure' | 'clears_soon' | 'cores' | 'ceiling' | 'reserved';

export interface Plan {
  decisions: Decision[];
  state: ScalerState;
}

/** Ticks arrive a few ms early or late: a low spell one tick long counts as that long. */
const TIMER_JITTER_MS = 20;

interface Work {
  s: PoolSample;
  prev: PoolState;
  next: PoolState;
  load: number;
  cpuBound: boolean | undefined;
  share: number;
  decision?: Decision;
  /** Idle workers this pool gives to loaded pools in this plan, by receiver. */
  gives?: Map<string, number>;
}

/** Decide what each pool should do now. Pure: the same input gives the same plan. */
export const decide = (samples: Samples, state: ScalerState, o: ScalerOptions): Plan => {
  const { at, pressure, budget } = samples;
  const contending = samples.pools.filter((s) => s.active + s.queued > 0).length;
  const fair = Math.max(1, Math.floor(budget.max / Math.max(1, contending)));
  const work: Work[] = samples.pools.map((s) => {
    const prev = state[s.name] ?? {};
    const cpuBound =
      s.measured !== undefined && s.measured > 0
        ? (s.cpuBusy ?? 0) * 2 >= s.measured
        : prev.cpuBound;
    const next: PoolState = { ...prev };
    if (cpuBound === undefined) delete next.cpuBound;
    else next.cpuBound = cpuBound;
    return {
      s,
      prev,
      next,
      load: loadRatio(s),
      cpuBound,
      share: Math.min(s.maxWorkers, Math.max(fair, s.minWorkers)),
    };
  });

  const pressureHold = pressureReason(pressure, o);
  const memoryCritical = pressure.memory !== undefined && pressure.memory >= o.shrinkMemoryUsage;
  let free = Math.max(0, budget.max - budget.used);
  let cpuDemand = work.reduce((n, w) => n + cpuDemandOf(w), 0);

  // Growth: pools below their fair share first, so one above it only gets what they leave.
  const growing = work
    .filter((w) => w.load > o.scaleUpThreshold)
    .sort((a, b) => a.s.workers / a.share - b.s.workers / b.share);
  const starved: Work[] = [];
  let reserved = 0;
  for (const w of growing) {
    const { s } = w;
    const want = wanted(w, o);
    const why = `load ${fmt(w.load)} > ${o.scaleUpThreshold} (${describe(s)})`;
    if (s.workers >= s.maxWorkers) {
      w.decision = hold(w, `${why}; held: at its maxWorkers (${s.maxWorkers})`, true, 'pool_max');
      continue;
    }
    if (memoryCritical || pressureHold) {
      const cause = pressureHold ?? memoryText(pressure, o.shrinkMemoryUsage);
      w.decision = hold(w, `${why}; held: ${cause}`, true, 'pressure');
      continue;
    }
    const clears = clearsBeforeColdStart(s);
    if (clears) {
      w.decision = hold(w, `${why}; held: ${clears}`, true, 'clears_soon');
      continue;
    }
    let grant = Math.min(want, s.maxWorkers - s.workers);
    let limit = '';
    let cpuLimited = false;
    if (w.cpuBound) {
      const room = Math.max(0, pressure.cores - cpuDemand);
      if (room < grant) {
        grant = room;
        cpuLimited = true;
        limit = `${cpuDemand} CPU-bound workers busy or starting on ${pressure.cores} cores`;
      }
    } else if (
      w.cpuBound === undefined &&
      !pressure.workersMeasured &&
      pressure.cpu !== undefined
    ) {
      if (pressure.cpu >= o.maxCpuUsage) {
        grant = 0;
        cpuLimited = true;
        limit = `the process uses ${pct(pressure.cpu)} of the CPU (limit ${pct(o.maxCpuUsage)})`;
      }
    }
    const below = s.workers < w.share;
    const room = below ? free : Math.max(0, free - reserved);
    // Minimums are warm targets only while there is room: queued work takes idle workers of
    // other pools, longest idle first, even below their minimum.
    const taken = room < grant && s.queued > 0 ? takeIdle(w, work, grant - room, o) : 0;
    let cause: HoldCause | undefined = cpuLimited ? 'cores' : undefined;
    if (room + taken < grant) {
      if (room + taken === 0 && below && s.queued > 0) starved.push(w);
      grant = room + taken;
      cause = room < free ? 'reserved' : 'ceiling';
      limit =
        room < free
          ? `the last ${free} free workers are kept for pools below their fair share`
          : `the runtime's maxWorkers (${budget.max}) are in use by busy workers`;
    }
    // What a pool below its share still needs (beyond this step) stays reserved for it.
    if (below && !cpuLimited) {
      const need = Math.ceil((s.active + s.queued) / (s.concurrency * o.scaleUpThreshold));
      reserved += Math.max(0, Math.min(w.share, need, s.maxWorkers) - s.workers - grant);
    }
    if (grant <= 0) {
      w.decision = hold(w, `${why}; held: ${limit}`, true, cause);
      continue;
    }
    free -= grant - taken;
    if (w.cpuBound) cpuDemand += grant;
    const capped = grant < want && limit ? ` (capped: ${limit})` : '';
    const from = taken > 0 ? `, ${taken} in place of idle workers of other functions` : '';
    w.decision = change(w, 'up', grant, `${why}: +${grant}${from}${capped}`);
    if (taken > 0) w.decision.awaitsRoom = taken;
    w.next.lastUpAt = at;
    delete w.next.lowSince;
  }

  // A pool below its fair share whose tasks wait with no room takes workers back from the pool
  // furthest above its own share (never below that pool's min); they retire once their tasks
  // in flight end.
  for (const w of starved) preempt(w, work, o);
  for (const w of work) if (w.gives) w.decision = giveIdle(w);

  for (const w of work) w.decision ??= settle(w, at, pressure, o);
  const next: Record<string, PoolState> = {};
  for (const w of work) next[w.s.name] = w.next;
  return { decisions: work.map((w) => w.decision as Decision), state: next };
};

/** (active + queued) / (workers × concurrency); a pool with no worker but work is infinitely loaded. */
export const loadRatio = (s: PoolSample): number => {
  const demand = s.active + s.queued;
  const capacity = s.workers * s.concurrency;
  if (capacity === 0) return demand > 0 ? Number.POSITIVE_INFINITY : 0;
  return demand / capacity;
};

// The seed adds `scaleUpStep`. A pool adds fewer when fewer bring its load back to the
// threshold, and more, up to doubling, when a burst needs more: 2 → 20 takes four steps.
const wanted = ({ s }: Work, o: ScalerOptions): number => {
  const demand = s.active + s.queued;
  const need = Math.max(1, Math.ceil(demand / (s.concurrency * o.scaleUpThreshold)) - s.workers);
  return need <= o.scaleUpStep ? need : Math.min(need, Math.max(o.scaleUpStep, s.workers));
};

// Short tasks: when the workers that are up will empty the queue before a new one could start,
// spawning only adds a worker to retire later.
const clearsBeforeColdStart = (s: PoolSample): string | undefined => {
  const ready = s.workers - s.starting;
  if (s.avgTaskMs <= 0 || s.coldStartMs === undefined || ready <= 0) return undefined;
  const clearMs = (s.queued * s.avgTaskMs) / (ready * s.concurrency);
  if (clearMs >= s.coldStartMs) return undefined;
  return `the queue clears in about ${Math.ceil(clearMs)} ms, before a new worker would start (${Math.round(s.coldStartMs)} ms)`;
};

// CPU-bound pools will keep every busy and starting worker on a core; other pools only the
// workers measured burning CPU.
const cpuDemandOf = ({ s, cpuBound }: Work): number => {
  const busy = s.workers - s.starting - s.idle;
  if (cpuBound) return busy + s.starting;
  return s.cpuBusy ?? 0;
};

const pressureReason = (p: PressureSample, o: ScalerOptions): string | undefined => {
  if (p.lagMs > o.maxEventLoopLagMs) {
    return `the event loop lags ${Math.round(p.lagMs)} ms (limit ${o.maxEventLoopLagMs})`;
  }
  if (p.elu !== undefined && p.elu > o.maxEventLoopUtilization) {
    return `the event loop is ${pct(p.elu)} busy (limit ${pct(o.maxEventLoopUtilization)})`;
  }
  if (p.memory !== undefined && p.memory > o.maxMemoryUsage) {
    return memoryText(p, o.maxMemoryUsage);
  }
  return undefined;
};

const memoryText = (p: PressureSample, limit: number): string =>
  `memory at ${pct(p.memory ?? 0)} (limit ${pct(limit)})`;

const preempt = (w: Work, work: Work[], o: ScalerOptions): void => {
  const waiting = Math.ceil(w.s.queued / w.s.concurrency);
  let deficit = Math.min(w.share - w.s.workers, wanted(w, o), waiting);
  for (; deficit > 0; deficit--) {
    let donor: Work | undefined;
    let surplus = 0;
    for (const other of work) {
      if (other === w || other.decision?.action === 'up' || other.gives) continue;
      const workers = other.decision?.action === 'down' ? other.decision.to : other.s.workers;
      const over = Math.min(workers - other.share, workers - other.s.minWorkers);
      if (over > surplus) {
        donor = other;
        surplus = over;
      }
    }
    if (!donor) return;
    const from = donor.s.workers;
    const to = (donor.decision?.action === 'down' ? donor.decision.to : from) - 1;
    donor.decision = {
      function: donor.s.name,
      action: 'down',
      from,
      to,
      load: donor.load,
      reason:
        `gives ${from - to} back: ${w.s.name} waits with ${w.s.workers} of its fair share ` +
        `of ${w.share} workers; this pool has ${from}, its share is ${donor.share}`,
      notable: true,
    };
  }
};

// Below the down threshold a pool retires workers only after its load stayed low for
// `scaleDownDelayMs`, and as long after its last scale-up: one step per evaluation then.
// Memory past `shrinkMemoryUsage` retires one worker of every pool above its minimum at once.
const settle = (w: Work, at: number, p: PressureSample, o: ScalerOptions): Decision => {
  const { s } = w;
  const current = `load ${fmt(w.load)} (${describe(s)})`;
  if (s.workers <= s.minWorkers) {
    delete w.next.lowSince;
    return hold(w, `${current}: at its minWorkers (${s.minWorkers})`, false);
  }
  if (p.memory !== undefined && p.memory >= o.shrinkMemoryUsage) {
    return change(w, 'down', 1, `${memoryText(p, o.shrinkMemoryUsage)}: -1`);
  }
  if (w.load >= o.scaleDownThreshold) {
    delete w.next.lowSince;
    return hold(w, `${current}: within ${o.scaleDownThreshold}-${o.scaleUpThreshold}`, false);
  }
  const lowSince = w.prev.lowSince ?? at;
  w.next.lowSince = lowSince;
  const waited = at - Math.max(lowSince, w.prev.lastUpAt ?? Number.NEGATIVE_INFINITY);
  const below = `${current} < ${o.scaleDownThreshold}`;
  if (waited + TIMER_JITTER_MS < o.scaleDownDelayMs) {
    return hold(w, `${below} for ${Math.round(waited)} of ${o.scaleDownDelayMs} ms`, false);
  }
  const step = Math.min(o.scaleDownStep, s.workers - s.minWorkers);
  return change(w, 'down', step, `${below} for ${Math.round(waited)} ms: -${step}`);
};

const change = (w: Work, action: 'up' | 'down', n: number, reason: string): Decision => ({
  function: w.s.name,
  action,
  from: w.s.workers,
  to: action === 'up' ? w.s.workers + n : w.s.workers - n,
  load: w.load,
  reason,
  notable: true,
});

const hold = (w: Work, reason: string, notable = true, cause?: HoldCause): Decision => {
  const decision: Decision = {
    function: w.s.name,
    action: 'hold',
    from: w.s.workers,
    to: w.s.workers,
    load: w.load,
    reason,
    notable,
  };
  if (cause) decision.cause = cause;
  return decision;
};

/**
 * Mark up to `count` idle workers of pools with nothing queued (and not loaded themselves) to
 * retire for `w`, longest idle first; the number marked.
 */
const takeIdle = (w: Work, work: Work[], count: number, o: ScalerOptions): number => {
  const idle: Array<{ donor: Work; since: number }> = [];
  for (const other of work) {
    if (other === w || other.s.queued > 0 || other.load > o.scaleUpThreshold) continue;
    if (other.decision && other.decision.action !== 'hold') continue;
    const given = [...(other.gives?.values() ?? [])].reduce((n, k) => n + k, 0);
    const times = other.s.idleSince ?? Array.from({ length: other.s.idle }, () => 0);
    for (const since of [...times].sort((a, b) => a - b).slice(given)) {
      idle.push({ donor: other, since });
    }
  }
  idle.sort((a, b) => a.since - b.since);
  const picked = idle.slice(0, count);
  for (const { donor } of picked) {
    donor.gives ??= new Map();
    donor.gives.set(w.s.name, (donor.gives.get(w.s.name) ?? 0) + 1);
  }
  return picked.length;
};

const giveIdle = (w: Work): Decision => {
  const gives = w.gives as Map<string, number>;
  const n = [...gives.values()].reduce((sum, k) => sum + k, 0);
  const to = [...gives].map(([name, k]) => `${k} to ${name}`).join(', ');
  delete w.next.lowSince;
  return {
    ...change(
      w,
      'down',
      n,
      `retires ${n} idle worker${n === 1 ? '' : 's'} (${to}): queued work elsewhere needs room under the ceiling; minimums hold only while there is room`,
    ),
    idleOnly: true,
  };
};

const describe = (s: PoolSample): string =>
  `${s.active + s.queued} tasks on ${s.workers} worker${s.workers === 1 ? '' : 's'}${s.concurrency > 1 ? ` × ${s.concurrency}` : ''}`;

const fmt = (n: number): string => (Number.isFinite(n) ? n.toFixed(2) : '∞');

const pct = (n: number): string => `${Math.round(n * 100)}%`;
