/**
 * Pressure signals for the scaler, read portably: event-loop lag from a timer's drift (works on
 * every runtime), event-loop utilization where it is real (Node; Deno and Bun return a zeros
 * stub, which is detected and ignored), and CPU and memory through the host's optional
 * `sample()`. Hardware concurrency comes from `navigator.hardwareConcurrency`, else the host.
 * @module
 */

import { unrefTimer } from '../time/timers.ts';
import type { HostSample, WorkerHost } from '../worker-host.ts';

/** How often the drift probe fires. */
const PROBE_MS = 100;
/** Weight of the newest drift in the smoothed lag. */
const LAG_WEIGHT = 0.3;

/** Cumulative readings; two of them make a window. */
export interface Snapshot {
  at: number;
  cpuTimeMs?: number;
  elu?: { active: number; idle: number };
}

/** Measured over a window, each 0-1, absent where the host cannot tell. */
export interface Readings {
  cpu?: number;
  memory?: number;
  elu?: number;
  lagMs: number;
}

/** Lateness of a repeating timer: how long the event loop kept it waiting. */
export class LagProbe {
  #timer: ReturnType<typeof setInterval> | undefined;
  #expected = 0;
  #lag = 0;

  start(): void {
    if (this.#timer !== undefined) return;
    this.#expected = performance.now() + PROBE_MS;
    this.#timer = setInterval(() => this.#tick(), PROBE_MS);
    unrefTimer(this.#timer);
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Smoothed lag in ms: a single late tick decays within about a second. */
  get lagMs(): number {
    return this.#lag;
  }

  #tick(): void {
    const now = performance.now();
    const drift = Math.max(0, now - this.#expected);
    this.#expected = now + PROBE_MS;
    this.#lag = this.#lag * (1 - LAG_WEIGHT) + drift * LAG_WEIGHT;
  }
}

type EluReader = () => { active: number; idle: number };

// Node's performance.eventLoopUtilization() is real; Deno and Bun define it but return zeros.
const eluReader = (): EluReader | undefined => {
  const read = (globalThis.performance as { eventLoopUtilization?: EluReader } | undefined)
    ?.eventLoopUtilization;
  return typeof read === 'function' ? () => read.call(globalThis.performance) : undefined;
};

/** CPU, memory and event-loop readings of the process, as windows between snapshots. */
export class PressureGauge {
  readonly probe = new LagProbe();
  readonly cores: number;
  #host: WorkerHost;
  #elu = eluReader();

  constructor(host: WorkerHost) {
    this.#host = host;
    this.cores = hardwareConcurrency(host);
  }

  snapshot(): Snapshot {
    const snap: Snapshot = { at: performance.now() };
    const cpu = this.#sample()?.cpuTimeMs;
    if (cpu !== undefined) snap.cpuTimeMs = cpu;
    const elu = this.#elu?.();
    // A stub answers zeros forever; a real reading is never all zero once the loop has run.
    if (elu && elu.active + elu.idle > 0) snap.elu = { active: elu.active, idle: elu.idle };
    return snap;
  }

  /** Readings over the window from `base` to now (memory and lag as they are now). */
  since(base: Snapshot, now = this.snapshot()): Readings {
    const readings: Readings = { lagMs: this.probe.lagMs };
    const wall = now.at - base.at;
    if (wall > 0 && base.cpuTimeMs !== undefined && now.cpuTimeMs !== undefined) {
      readings.cpu = clamp((now.cpuTimeMs - base.cpuTimeMs) / (wall * this.cores));
    }
    if (base.elu && now.elu) {
      const active = now.elu.active - base.elu.active;
      const total = active + now.elu.idle - base.elu.idle;
      if (total > 0) readings.elu = clamp(active / total);
    }
    const memory = memoryUse(this.#sample());
    if (memory !== undefined) readings.memory = memory;
    return readings;
  }

  #sample(): HostSample | undefined {
    try {
      return this.#host.sample?.();
    } catch {
      // A host may need a permission to read the machine (Deno's --allow-sys): then no reading.
      return undefined;
    }
  }
}

/**
 * Memory in use as a share of what the process may use: its resident set against the smaller of
 * its limit and what it holds plus what the machine has free.
 */
export const memoryUse = (s: HostSample | undefined): number | undefined => {
  if (!s || s.memoryBytes === undefined) return undefined;
  let room = s.memoryLimitBytes ?? Number.POSITIVE_INFINITY;
  if (s.systemFreeBytes !== undefined) room = Math.min(room, s.memoryBytes + s.systemFreeBytes);
  return Number.isFinite(room) && room > 0 ? clamp(s.memoryBytes / room) : undefined;
};

/** Logical cores: `navigator.hardwareConcurrency` where the runtime has it, else the host's. */
export const hardwareConcurrency = (host: WorkerHost): number => {
  const fromNavigator = (globalThis as { navigator?: { hardwareConcurrency?: unknown } }).navigator
    ?.hardwareConcurrency;
  if (typeof fromNavigator === 'number' && fromNavigator >= 1) return Math.floor(fromNavigator);
  return Math.max(1, host.hardwareConcurrency());
};

const clamp = (n: number): number => Math.min(1, Math.max(0, n));
