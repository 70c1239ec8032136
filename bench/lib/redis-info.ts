/**
 * What a Redis did, read from its own counters (`INFO`) through `redis-cli`: commands executed
 * (those run inside scripts included), calls per command, and its CPU time. Differences between
 * two readings do not depend on the machine's speed or load, except the CPU time.
 */
import { spawnSync } from 'node:child_process';

export interface RedisReading {
  /** `total_commands_processed`: every command, those a script runs included. */
  commands: number;
  /** Calls per command name (`INFO commandstats`). */
  calls: Record<string, number>;
  /** Redis's CPU time, user + system, in seconds. */
  cpuSeconds: number;
  at: number;
}

export const readRedis = (port: number): RedisReading => {
  const out = spawnSync('redis-cli', ['-p', String(port), 'INFO', 'everything'], {
    encoding: 'utf8',
  });
  if (out.status !== 0) throw new Error(`redis-cli INFO failed: ${out.stderr}`);
  const field = (name: string) =>
    Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(out.stdout)?.[1]);
  const calls: Record<string, number> = {};
  for (const m of out.stdout.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    calls[m[1] as string] = Number(m[2]);
  }
  return {
    commands: field('total_commands_processed'),
    calls,
    cpuSeconds: field('used_cpu_user') + field('used_cpu_sys'),
    at: performance.now(),
  };
};

/** What Redis did between two readings, per task. */
export const perTask = (before: RedisReading, after: RedisReading, tasks: number) => {
  const calls = (name: string) => (after.calls[name] ?? 0) - (before.calls[name] ?? 0);
  // The reading itself (INFO) is not the servers' work.
  const commands = after.commands - before.commands - calls('info');
  const scripts = calls('evalsha') + calls('eval');
  const seconds = (after.at - before.at) / 1000;
  return {
    /** Commands Redis executed per task, the scripts' own commands included. */
    commandsPerTask: commands / tasks,
    /** Requests to Redis per task that ran a script (one round trip each). */
    scriptCallsPerTask: scripts / tasks,
    /** Transactions per task (each one request, counted at EXEC). */
    transactionsPerTask: calls('exec') / tasks,
    /** Redis CPU time per task, µs. */
    redisCpuUsPerTask: ((after.cpuSeconds - before.cpuSeconds) * 1e6) / tasks,
    /** Commands per second Redis executed during the run. */
    commandsPerSec: commands / seconds,
    /** Share of one core Redis used during the run. */
    redisCpuShare: (after.cpuSeconds - before.cpuSeconds) / seconds,
  };
};
