/**
 * `npm run bench`: every case in a fresh process, one after another, repeated; the median
 * (min–max) of each figure, ratios to the peer measured in the same run, printed as a Markdown
 * table and written to bench/RESULTS.md (with the scaling chart as bench/scaling.svg).
 * Options: --quick (tiny sizes, one round: a smoke run), --reps=N, --only=case,case,
 * --out=FILE (`-` writes nothing), --http-seconds=N.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { scalingChart, type TimelineSample } from './lib/chart.ts';
import { type CaseRun, runCase } from './lib/child.ts';
import { describeMachine, load } from './lib/machine.ts';
import { buildReport, type Figures } from './lib/report.ts';

const flags = new Map(
  process.argv.slice(2).map((a) => {
    const [k, v] = a.replace(/^--/, '').split('=');
    return [k as string, v ?? 'true'];
  }),
);
const quick = flags.has('quick');
const reps = Number(flags.get('reps') ?? (quick ? 1 : 3));
const only = flags.get('only')?.split(',');
const out = flags.get('out') ?? (quick ? '-' : new URL('./RESULTS.md', import.meta.url).pathname);
const httpSeconds = Number(flags.get('http-seconds') ?? (quick ? 1 : 10));
const cores = availableParallelism();

const size = quick
  ? { tasks: 500, fibCount: 10, fibN: 20, sequential: 100, memWorkers: 2, burst: 20, napMs: 150 }
  : {
      tasks: 20_000,
      fibCount: 200,
      fibN: 27,
      sequential: 2_000,
      memWorkers: 8,
      burst: 100,
      napMs: 200,
    };
// The scaler's timings for the scaling case (defaults: 10 s tick, 10 s cool-down), shortened so a
// run ends in seconds; the scale-up path does not depend on them.
const scaling = quick
  ? { monitorMs: 100, downDelayMs: 200, maxWorkers: 4 }
  : { monitorMs: 500, downDelayMs: 2_000, maxWorkers: 20 };

/** The capped servers' task: one worker, 16 at a time, each waiting this long (80/s each). */
const CAPPED_NAP_MS = 200;

interface Job {
  key: string;
  group: string;
  run: CaseRun;
  reps: number;
}

const jobs: Job[] = [];
const add = (group: string, key: string, run: CaseRun, times = reps) =>
  jobs.push({ key, group, run, reps: times });
for (const workers of [2, 4]) {
  for (const impl of ['ebbflow', 'piscina', 'comlink']) {
    add('trivial', `trivial-${impl}-${workers}`, {
      file: 'trivial.ts',
      args: [impl, workers, size.tasks],
    });
  }
}
// A CPU run lasts about 150 ms, so a passing load elsewhere moves it a lot: more rounds.
const cpuReps = quick ? 1 : reps + 4;
add(
  'cpu',
  'cpu-single',
  { file: 'cpu.ts', args: ['single', 1, size.fibCount, size.fibN] },
  cpuReps,
);
add(
  'cpu',
  'cpu-threads',
  { file: 'cpu.ts', args: ['threads', cores, size.fibCount, size.fibN] },
  cpuReps,
);
add(
  'cpu',
  'cpu-ebbflow',
  { file: 'cpu.ts', args: ['ebbflow', cores, size.fibCount, size.fibN] },
  cpuReps,
);
for (const impl of ['ebbflow', 'piscina']) {
  add('latency', `latency-${impl}`, { file: 'latency.ts', args: [impl, 2, size.sequential] });
}
for (const impl of ['ebbflow', 'piscina']) {
  add('cold', `cold-${impl}`, { file: 'coldstart.ts', args: [impl] }, quick ? 1 : reps + 2);
}
for (const mode of ['inline', 'invoke', 'poll', 'handler']) {
  add('http', `http-${mode}`, { file: 'http.ts', args: [mode, 10, httpSeconds] });
}
// The local Workers build beside the Node server, each by its start command, in the same run.
for (const mode of ['invoke', 'poll']) {
  for (const target of ['workers', 'node']) {
    add('edge', `edge-${target}-${mode}`, {
      file: 'edge.ts',
      args: [target, mode, 10, httpSeconds],
    });
  }
}
for (const impl of ['ebbflow', 'piscina', 'bare']) {
  add('memory', `memory-${impl}`, {
    file: 'memory.ts',
    args: [impl, size.memWorkers],
    nodeFlags: ['--expose-gc'],
  });
}
add('deploy', 'deploy-first-result', {
  file: 'deploy.ts',
  args: ['first-result', quick ? 2 : 5],
});
add('deploy', 'deploy-throughput', {
  file: 'deploy.ts',
  args: ['throughput', quick ? 3 : 10, 32],
});
add('sse', 'sse-fanout', {
  file: 'sse.ts',
  args: [quick ? 10 : 50, quick ? 1_000 : 10_000],
});
// Start to first result: the bundle cache empty (first start) or filled by an earlier start
// (restart), over the trivial function alone or the whole bench/functions folder.
for (const [impl, cache, functions] of [
  ['ebbflow', 'warm', 'one'],
  ['ebbflow', 'cold', 'one'],
  ['ebbflow', 'warm', 'all'],
  ['piscina', '', ''],
] as const) {
  add(
    'startup',
    `startup-${[impl, cache, functions].filter(Boolean).join('-')}`,
    { file: 'startup.ts', args: [impl, cache, functions] },
    quick ? 1 : reps + 2,
  );
}
// The server as `npm start` starts it, through its launcher or alone, in the same run.
for (const mode of ['launched', 'alone']) {
  add(
    'startup',
    `startup-server-${mode}`,
    { file: 'startup.ts', args: ['server', mode] },
    quick ? 1 : reps + 2,
  );
}
add('scaling', 'scaling', {
  file: 'scaling.ts',
  args: [size.burst, size.napMs, scaling.monitorMs, scaling.downDelayMs, scaling.maxWorkers],
});
// Several servers: one in memory, then 1, 2 and 3 sharing a private Redis, each in its own process;
// then 1, 2 and 3 each capped at 80 tasks/s by its one worker (scaling without more cores; 40
// connections each, more than the 16 tasks a server runs at once); and
// what this Redis does with redis-benchmark.
add('cluster', 'cluster-memory-1', {
  file: 'cluster.ts',
  args: ['memory', 1, httpSeconds, 10, quick ? 100 : 1_000],
});
for (const servers of [1, 2, 3]) {
  add('cluster', `cluster-redis-${servers}`, {
    file: 'cluster.ts',
    args: ['redis', servers, httpSeconds, 10, quick ? 100 : 1_000],
  });
}
for (const servers of [1, 2, 3]) {
  add('cluster', `cluster-capped-${servers}`, {
    file: 'cluster.ts',
    args: ['capped', servers, httpSeconds, 40, 0, CAPPED_NAP_MS],
  });
}
add('cluster', 'cluster-capacity', {
  file: 'cluster.ts',
  args: ['capacity', 0, 0, 0, quick ? 20_000 : 200_000],
});

// Case 11, where tasks live: the in-memory store against the embedded SQLite store (the
// server's default), side by side in every round so a passing load falls on both alike.
for (const mode of ['poll', 'invoke']) {
  for (const store of ['memory', 'sqlite']) {
    add('storage', `storage-${mode}-${store}`, {
      file: 'http.ts',
      args: [mode, 10, httpSeconds, store],
    });
  }
}
add('storage', 'storage-poll-sqlite-full', {
  file: 'http.ts',
  args: ['poll', 10, httpSeconds, 'sqlite-full'],
});
for (const store of ['memory', 'sqlite']) {
  add('storage', `storage-latency-${store}`, {
    file: 'latency.ts',
    args: ['ebbflow', 2, size.sequential, store],
  });
}
add('storage', 'storage-disk', { file: 'storage.ts', args: [quick ? 2_000 : 100_000] }, 1);

const selected = jobs.filter((j) => !only || only.includes(j.group));
const figures: Figures = new Map();
const started = Date.now();
const loadBefore = load();
const failures: string[] = [];
/** The 1-minute load average as each case starts. */
const loads: number[] = [];
const rounds = Math.max(...selected.map((j) => j.reps));
// Rounds over all cases (A B C, A B C, ...), so a passing load on the shared machine falls on
// every implementation alike rather than on one case's repetitions.
for (let round = 0; round < rounds; round++) {
  for (const job of selected) {
    if (round >= job.reps) continue;
    loads.push(loadavg()[0] as number);
    process.stderr.write(`[${round + 1}/${job.reps}] ${job.key} ... `);
    try {
      const result = await runCase(job.run);
      process.stderr.write('done\n');
      const list = figures.get(job.key) ?? [];
      list.push(result);
      figures.set(job.key, list);
    } catch (error) {
      // One failed run does not lose the others; it is listed in the results and fails the exit code.
      const message = error instanceof Error ? error.message : String(error);
      process.stderr.write(`failed\n${message}\n`);
      failures.push(`${job.key} (round ${round + 1}): ${message.split('\n')[0]}`);
    }
  }
}
const minutes = (Date.now() - started) / 60_000;

const machine = describeMachine();
const scalingRuns = figures.get('scaling') ?? [];
let chartFile: string | undefined;
if (out !== '-') mkdirSync(dirname(out), { recursive: true });
if (scalingRuns.length > 0 && out !== '-') {
  // The run whose time to the needed workers is the median one.
  const sorted = [...scalingRuns].sort(
    (a, b) => Number(a.reachNeededMs ?? Infinity) - Number(b.reachNeededMs ?? Infinity),
  );
  const shown = sorted[sorted.length >> 1] as Record<string, unknown>;
  chartFile = join(dirname(out), 'scaling.svg');
  const title = `ebbflow: ${size.burst} × sleep(${size.napMs} ms) from idle, sampled every 100 ms`;
  writeFileSync(
    chartFile,
    scalingChart(shown.samples as TimelineSample[], title, [
      { value: Number(shown.needed), label: `needed: ${shown.needed}` },
      { value: Number(shown.minWorkers), label: `min: ${shown.minWorkers}` },
    ]),
  );
}
const report = buildReport({
  figures,
  machine,
  cores,
  quick,
  reps,
  httpSeconds,
  size,
  scaling,
  minutes,
  loadBefore,
  loadAfter: load(),
  loadDuring: loads,
  failures,
  chart: chartFile ? 'scaling.svg' : undefined,
});
console.log(report.table);
if (out !== '-') {
  writeFileSync(out, report.document);
  process.stderr.write(`wrote ${out}${chartFile ? ` and ${chartFile}` : ''}\n`);
}
if (failures.length > 0) process.exitCode = 1;
