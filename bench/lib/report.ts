/** Turns the figures of every run into the Markdown table and the RESULTS.md document. */
import { type Spread, spread } from './stats.ts';

export type Figures = Map<string, Array<Record<string, unknown>>>;

export interface ReportInput {
  figures: Figures;
  machine: Record<string, unknown>;
  cores: number;
  quick: boolean;
  reps: number;
  httpSeconds: number;
  size: Record<string, number>;
  scaling: { monitorMs: number; downDelayMs: number; maxWorkers: number };
  minutes: number;
  loadBefore: string;
  loadAfter: string;
  /** The 1-minute load average as each case started. */
  loadDuring: number[];
  /** Runs that failed, one line each. */
  failures: string[];
  chart: string | undefined;
}

interface Row {
  measure: string;
  ebbflow: string;
  peer: string;
  ratio: string;
  target: string;
  met: boolean | undefined;
}

const fmt = (v: number, digits = 0) =>
  v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const show = (s: Spread | undefined, digits = 0, unit = '') =>
  s ? `${fmt(s.median, digits)}${unit} (${fmt(s.min, digits)}–${fmt(s.max, digits)})` : 'n/a';

export const buildReport = (input: ReportInput): { table: string; document: string } => {
  const { figures } = input;
  const get = (key: string, field: string, scale = 1): Spread | undefined => {
    const runs = figures.get(key);
    if (!runs || runs.length === 0) return undefined;
    const values = runs
      .map((r) => (r[field] == null ? Number.NaN : Number(r[field]) * scale))
      .filter((v) => Number.isFinite(v));
    return values.length > 0 ? spread(values) : undefined;
  };
  const ratio = (a: Spread | undefined, b: Spread | undefined) =>
    a && b && b.median > 0 ? a.median / b.median : undefined;
  const rows: Row[] = [];
  const row = (
    measure: string,
    ours: Spread | undefined,
    peer: string,
    r: number | undefined,
    target: string,
    met: boolean | undefined,
    digits = 0,
    unit = '',
  ) =>
    rows.push({
      measure,
      ebbflow: show(ours, digits, unit),
      peer,
      ratio: r === undefined ? '' : `${fmt(r, 2)}×`,
      target,
      met,
    });

  for (const w of [2, 4]) {
    const ours = get(`trivial-ebbflow-${w}`, 'tasksPerSec');
    const pis = get(`trivial-piscina-${w}`, 'tasksPerSec');
    const raw = get(`trivial-comlink-${w}`, 'tasksPerSec');
    const vsPis = ratio(ours, pis);
    const vsRaw = ratio(ours, raw);
    if (ours || pis) {
      row(
        `1. Trivial tasks, ${w} workers (tasks/s)`,
        ours,
        `piscina ${show(pis)}`,
        vsPis,
        '≥ 2× piscina',
        vsPis === undefined ? undefined : vsPis >= 2,
      );
      row(
        `1. Trivial tasks, ${w} workers (tasks/s)`,
        ours,
        `raw comlink ${show(raw)}`,
        vsRaw,
        '≥ 1× raw comlink',
        vsRaw === undefined ? undefined : vsRaw >= 1,
      );
    }
  }
  const cpu = get('cpu-ebbflow', 'tasksPerSec');
  const single = get('cpu-single', 'tasksPerSec', input.cores);
  if (cpu || single) {
    const eff = ratio(cpu, single);
    rows.push({
      measure: `2. CPU efficiency, ${input.size.fibCount} × fib(${input.size.fibN}) on ${input.cores} workers (tasks/s)`,
      ebbflow: show(cpu, 1),
      peer: `1 thread × ${input.cores} cores ${show(single, 1)}`,
      ratio: eff === undefined ? '' : `${fmt(eff * 100, 1)} %`,
      target: '≥ 95 %',
      met: eff === undefined ? undefined : eff >= 0.95,
    });
    const threads = get('cpu-threads', 'tasksPerSec');
    const vsThreads = ratio(cpu, threads);
    rows.push({
      measure: '2. CPU efficiency against bare threads measured at the same time (tasks/s)',
      ebbflow: show(cpu, 1),
      peer: `${input.cores} bare threads, no pool ${show(threads, 1)}`,
      ratio: vsThreads === undefined ? '' : `${fmt(vsThreads * 100, 1)} %`,
      target: '',
      met: undefined,
    });
    const busy = get('cpu-ebbflow', 'workerBusyShare', 100);
    row(
      "2. Share of the workers' time spent in the function (%)",
      busy,
      '',
      undefined,
      '',
      undefined,
      1,
    );
  }
  const p50 = get('latency-ebbflow', 'p50Ms', 1000);
  const p50Peer = get('latency-piscina', 'p50Ms', 1000);
  if (p50 || p50Peer) {
    const r = ratio(p50, p50Peer);
    row(
      '3. Sequential latency p50 (µs)',
      p50,
      `piscina ${show(p50Peer)}`,
      r,
      '≤ piscina',
      r === undefined ? undefined : r <= 1,
    );
    const p99 = get('latency-ebbflow', 'p99Ms', 1000);
    const p99Peer = get('latency-piscina', 'p99Ms', 1000);
    row(
      '3. Sequential latency p99 (µs)',
      p99,
      `piscina ${show(p99Peer)}`,
      ratio(p99, p99Peer),
      '',
      undefined,
    );
  }
  const cold = get('cold-ebbflow', 'ms');
  if (cold) {
    const peer = get('cold-piscina', 'ms');
    row(
      '4. Cold start, submit → result (ms)',
      cold,
      `piscina, minThreads 0: ${show(peer, 1)}`,
      ratio(cold, peer),
      '≤ 40 ms',
      cold.median <= 40,
      1,
    );
  }
  const inline = get('http-inline', 'reqPerSec');
  if (inline) {
    const invoke = get('http-invoke', 'reqPerSec');
    const poll = get('http-poll', 'tasksPerSec');
    const r = ratio(invoke, inline);
    row(
      '5. HTTP invoke (req/s)',
      invoke,
      `inline Hono ${show(inline)}`,
      r,
      '≥ 0.5× inline',
      r === undefined ? undefined : r >= 0.5,
    );
    row(
      '5. HTTP invoke p99 (ms)',
      get('http-invoke', 'p99Ms'),
      `inline Hono ${show(get('http-inline', 'p99Ms'))}`,
      undefined,
      '',
      undefined,
    );
    row(
      '5. HTTP submit + long-poll (tasks/s, 2 requests each)',
      poll,
      `inline Hono ${show(inline)}`,
      ratio(poll, inline),
      '',
      undefined,
    );
    row(
      '5. HTTP submit + long-poll p99 per request (ms)',
      get('http-poll', 'p99Ms'),
      '',
      undefined,
      '',
      undefined,
    );
    const handler = get('http-handler', 'reqPerSec');
    if (handler) {
      row(
        "5. HTTP handler, a function's fetch export (req/s)",
        handler,
        `inline Hono ${show(inline)}`,
        ratio(handler, inline),
        '',
        undefined,
      );
    }
  }
  const sse = get('sse-fanout', 'eventsPerSec');
  if (sse) {
    const runs = figures.get('sse-fanout') ?? [];
    const readers = runs[0]?.readers;
    row(
      `9. SSE fan-out, events/s delivered to ${readers} readers`,
      sse,
      `tasks/s alone ${show(get('sse-fanout', 'tasksPerSecAlone'))}, with readers ${show(get('sse-fanout', 'tasksPerSecWithReaders'))}`,
      ratio(get('sse-fanout', 'tasksPerSecWithReaders'), get('sse-fanout', 'tasksPerSecAlone')),
      '',
      undefined,
    );
    row(
      '9. SSE server CPU per delivered event (µs)',
      get('sse-fanout', 'serverCpuUsPerEvent'),
      'over the same tasks without readers',
      undefined,
      '',
      undefined,
      1,
    );
  }
  const mem = get('memory-ebbflow', 'rssPerWorkerMiB');
  if (mem) {
    const pis = get('memory-piscina', 'rssPerWorkerMiB');
    const bare = get('memory-bare', 'rssPerWorkerMiB');
    row(
      '6. RSS per idle worker (MiB)',
      mem,
      `piscina ${show(pis, 1)}; bare worker ${show(bare, 1)}`,
      ratio(mem, pis),
      '≤ 11 MiB',
      mem.median <= 11,
      1,
    );
  }
  const reach = get('scaling', 'reachNeededMs');
  if (figures.get('scaling')) {
    const first = figures.get('scaling')?.[0] ?? {};
    const runs = figures.get('scaling')?.length ?? 0;
    const missed = (figures.get('scaling') ?? []).filter((r) => r.reachNeededMs == null).length;
    row(
      `7. Scaling: time to the needed ${first.needed} workers (ms)`,
      reach,
      missed > 0 ? `not reached in ${missed} of ${runs} runs` : '',
      undefined,
      '≤ about 1,000 ms',
      reach !== undefined && missed === 0 && reach.median <= 1_100,
    );
    row(
      `7. Scaling: time back to min (${first.minWorkers}) after the burst (ms)`,
      get('scaling', 'backToMinMs'),
      `scale-down cool-down ${input.scaling.downDelayMs} ms, tick ${input.scaling.monitorMs} ms`,
      undefined,
      '',
      undefined,
    );
    row(
      '7. Scaling: scale changes (up + down)',
      get('scaling', 'scaleChanges'),
      `ups ${show(get('scaling', 'scaleUps'))}, downs ${show(get('scaling', 'scaleDowns'))}`,
      undefined,
      '',
      undefined,
    );
  }

  const startup = get('startup-ebbflow-warm-one', 'ms');
  if (startup) {
    const peer = get('startup-piscina', 'ms');
    const r = ratio(startup, peer);
    row(
      '8. Start to first result, bundles cached (ms)',
      startup,
      `piscina, new pool → first result: ${show(peer, 1)}`,
      r,
      '≤ 2× piscina',
      r === undefined ? undefined : r <= 2,
      1,
    );
    const cold = get('startup-ebbflow-cold-one', 'ms');
    row(
      '8. Start to first result, first start (empty bundle cache) (ms)',
      cold,
      '',
      ratio(cold, peer),
      '',
      undefined,
      1,
    );
    const all = get('startup-ebbflow-warm-all', 'ms');
    row(
      `8. Start to first result, bench/functions (4 functions), cached (ms)`,
      all,
      '',
      ratio(all, peer),
      '',
      undefined,
      1,
    );
  }
  const launched = get('startup-server-launched', 'ms');
  if (launched) {
    const alone = get('startup-server-alone', 'ms');
    row(
      '8. Server start to first invoke, `npm start` through its launcher (ms)',
      launched,
      `the server process alone: ${show(alone, 1)}`,
      ratio(launched, alone),
      '',
      undefined,
      1,
    );
  }
  const deployMs = get('deploy-first-result', 'ms');
  if (deployMs) {
    const cold = get('deploy-first-result', 'coldMs');
    row(
      '9. Deploy → first result of the new version (ms)',
      deployMs,
      `cold start of a deployed function ${show(cold, 1)}`,
      ratio(deployMs, cold),
      '',
      undefined,
      1,
    );
  }
  const redeploying = get('deploy-throughput', 'tasksPerSec');
  if (redeploying) {
    const still = get('deploy-throughput', 'stillTasksPerSec');
    row(
      '9. Invoke throughput, redeployed every second (tasks/s)',
      redeploying,
      `no redeploys ${show(still)}`,
      ratio(redeploying, still),
      '',
      undefined,
    );
  }

  const edgeInvoke = get('edge-workers-invoke', 'reqPerSec');
  const edgePoll = get('edge-workers-poll', 'tasksPerSec');
  if (edgeInvoke || edgePoll) {
    const nodeInvoke = get('edge-node-invoke', 'reqPerSec');
    const nodePoll = get('edge-node-poll', 'tasksPerSec');
    row(
      '9. Workers (local workerd) invoke (req/s)',
      edgeInvoke,
      `npm start (Node) ${show(nodeInvoke)}`,
      ratio(edgeInvoke, nodeInvoke),
      '',
      undefined,
    );
    row(
      '9. Workers (local workerd) invoke p99 (ms)',
      get('edge-workers-invoke', 'p99Ms'),
      `npm start (Node) ${show(get('edge-node-invoke', 'p99Ms'))}`,
      undefined,
      '',
      undefined,
    );
    for (const [what, field] of [
      ['Durable Object calls', 'objectCallsPerTask'],
      ['alarm writes', 'alarmWritesPerTask'],
      ['SQL statements', 'statementsPerTask'],
    ] as const) {
      row(
        `9. Workers (local workerd) invoke: ${what} per task`,
        get('edge-workers-invoke', field),
        'edge/costs.ts, from /stats',
        undefined,
        '',
        undefined,
        2,
      );
    }
    row(
      '9. Workers (local workerd) submit + long-poll (tasks/s)',
      edgePoll,
      `npm start (Node) ${show(nodePoll)}`,
      ratio(edgePoll, nodePoll),
      '',
      undefined,
    );
  }

  const alone = get('cluster-memory-1', 'invokesPerSec');
  if (alone) {
    for (const n of [1, 2, 3]) {
      const shared = get(`cluster-redis-${n}`, 'invokesPerSec');
      const r = ratio(shared, alone);
      row(
        `10. Cluster: ${n} server${n > 1 ? 's' : ''} on Redis, HTTP invoke (invokes/s)`,
        shared,
        `1 server in memory ${show(alone)}`,
        r,
        n === 1 ? '>= 0.5×' : '',
        n === 1 && r !== undefined ? r >= 0.5 : undefined,
      );
    }
    const p50 = get('cluster-redis-1', 'p50Ms');
    const p50Alone = get('cluster-memory-1', 'p50Ms');
    row(
      '10. Cluster: sequential invoke p50 on Redis (ms)',
      p50,
      `1 server in memory ${show(p50Alone, 2)}`,
      ratio(p50, p50Alone),
      '',
      undefined,
      2,
    );
    if (p50 && p50Alone) {
      rows.push({
        measure: '10. Cluster: latency Redis adds per task (p50, ms)',
        ebbflow: fmt(p50.median - p50Alone.median, 2),
        peer: '',
        ratio: '',
        target: '',
        met: undefined,
      });
    }
    const trips = get('cluster-redis-1', 'roundTripsPerTask');
    row(
      '10. Cluster: Redis round trips per sequential invoke',
      trips,
      'Redis commands run per invoke (scripts’ own included) ' +
        show(get('cluster-redis-1', 'sequentialCommandsPerTask'), 1),
      undefined,
      '<= 3',
      trips ? trips.median <= 3.05 : undefined,
      2,
    );
    for (const n of [1, 2, 3]) {
      const key = `cluster-redis-${n}`;
      row(
        `10. Cluster: ${n} server${n > 1 ? 's' : ''} under load, Redis script calls per task`,
        get(key, 'scriptCallsPerTask'),
        `commands run ${show(get(key, 'commandsPerTask'), 1)}; Redis CPU ${show(get(key, 'redisCpuUsPerTask'))} µs/task`,
        undefined,
        '',
        undefined,
        2,
      );
    }
    const cpuRedis = get('cluster-redis-1', 'serverCpuUsPerTask');
    const cpuAlone = get('cluster-memory-1', 'serverCpuUsPerTask');
    row(
      '10. Cluster: server CPU per invoke under load, on Redis (µs, all threads)',
      cpuRedis,
      `in memory ${show(cpuAlone)}`,
      ratio(cpuRedis, cpuAlone),
      '',
      undefined,
    );
  }
  const cappedOne = get('cluster-capped-1', 'invokesPerSec');
  if (cappedOne) {
    const cap = get('cluster-capped-1', 'capPerServer');
    for (const n of [1, 2, 3]) {
      const capped = get(`cluster-capped-${n}`, 'invokesPerSec');
      const r = ratio(capped, cappedOne);
      row(
        `10. Cluster: ${n} server${n > 1 ? 's' : ''} capped at ${show(cap)} tasks/s each (invokes/s)`,
        capped,
        `1 capped server ${show(cappedOne)}`,
        r,
        n > 1 ? `>= ${fmt(0.85 * n, 2)}×` : '',
        n > 1 && r !== undefined ? r >= 0.85 * n : undefined,
      );
    }
  }
  const setRate = get('cluster-capacity', 'setPerSec');
  const perTask = get('cluster-redis-1', 'commandsPerTask');
  const redisCpu = get('cluster-redis-1', 'redisCpuUsPerTask');
  if (setRate && perTask && redisCpu) {
    rows.push({
      measure:
        '10. Cluster: tasks/s one Redis carries (commands/s ÷ commands per task; 1 s ÷ Redis CPU per task)',
      ebbflow: `${fmt(setRate.median / perTask.median)}; ${fmt(1e6 / redisCpu.median)}`,
      peer: `redis-benchmark SET ${show(setRate)}/s, GET ${show(get('cluster-capacity', 'getPerSec'))}/s`,
      ratio: '',
      target: '',
      met: undefined,
    });
  }

  // 11. Storage: each round ran memory then SQLite back to back; ratios are taken per round.
  const paired = (a: string, b: string, field: string, how: (x: number, y: number) => number) => {
    const left = figures.get(a) ?? [];
    const right = figures.get(b) ?? [];
    const values: number[] = [];
    for (let i = 0; i < Math.min(left.length, right.length); i++) {
      const x = Number(left[i]?.[field]);
      const y = Number(right[i]?.[field]);
      if (Number.isFinite(x) && Number.isFinite(y) && y !== 0) values.push(how(x, y));
    }
    return values.length > 0 ? spread(values) : undefined;
  };
  const pollSql = get('storage-poll-sqlite', 'tasksPerSec');
  const pollMem = get('storage-poll-memory', 'tasksPerSec');
  if (pollSql || pollMem) {
    const perRound = paired(
      'storage-poll-sqlite',
      'storage-poll-memory',
      'tasksPerSec',
      (x, y) => x / y,
    );
    rows.push({
      measure: '11. Storage: HTTP submit + long-poll on SQLite (tasks/s)',
      ebbflow: show(pollSql),
      peer: `in memory ${show(pollMem)}`,
      ratio: perRound
        ? `${fmt(perRound.median, 2)}× (${fmt(perRound.min, 2)}–${fmt(perRound.max, 2)}, per round)`
        : '',
      target: '≥ 0.7× memory',
      met: perRound === undefined ? undefined : perRound.median >= 0.7,
    });
    const full = get('storage-poll-sqlite-full', 'tasksPerSec');
    row(
      '11. Storage: the same with EBBFLOW_DATA_SYNC=full (every commit synced) (tasks/s)',
      full,
      `in memory ${show(pollMem)}`,
      ratio(full, pollMem),
      '',
      undefined,
    );
    const invokeGap = paired(
      'storage-invoke-sqlite',
      'storage-invoke-memory',
      'p50Ms',
      (x, y) => x - y,
    );
    rows.push({
      measure: '11. Storage: HTTP invoke p50 under load (10 connections), SQLite (ms)',
      ebbflow: show(get('storage-invoke-sqlite', 'p50Ms'), 2),
      peer: `in memory ${show(get('storage-invoke-memory', 'p50Ms'), 2)}`,
      ratio: invokeGap
        ? `+${fmt(invokeGap.median, 2)} ms (${fmt(invokeGap.min, 2)}–${fmt(invokeGap.max, 2)}, per round)`
        : '',
      target: '≤ memory + 1 ms',
      met: invokeGap === undefined ? undefined : invokeGap.median <= 1,
    });
    const seqGap = paired(
      'storage-latency-sqlite',
      'storage-latency-memory',
      'p50Ms',
      (x, y) => x - y,
    );
    rows.push({
      measure: '11. Storage: sequential invoke p50 in process (runtime.call), SQLite (ms)',
      ebbflow: show(get('storage-latency-sqlite', 'p50Ms'), 3),
      peer: `in memory ${show(get('storage-latency-memory', 'p50Ms'), 3)}`,
      ratio: seqGap
        ? `+${fmt(seqGap.median, 3)} ms (${fmt(seqGap.min, 3)}–${fmt(seqGap.max, 3)}, per round)`
        : '',
      target: '≤ memory + 1 ms',
      met: seqGap === undefined ? undefined : seqGap.median <= 1,
    });
    row(
      '11. Group commit under submit + long-poll: commits per second',
      get('storage-poll-sqlite', 'commitsPerSec'),
      `tasks per commit ${show(get('storage-poll-sqlite', 'tasksPerCommit'), 1)}`,
      undefined,
      '',
      undefined,
    );
    row(
      '11. Group commit under invoke: commits per second',
      get('storage-invoke-sqlite', 'commitsPerSec'),
      `tasks per commit ${show(get('storage-invoke-sqlite', 'tasksPerCommit'), 1)}`,
      undefined,
      '',
      undefined,
    );
  }
  const disk = get('storage-disk', 'bytesPerTask');
  if (disk) {
    const tasks = get('storage-disk', 'tasks');
    row(
      '11. Disk: bytes per finished task kept (file and log while serving)',
      disk,
      `after closing (log checkpointed) ${show(get('storage-disk', 'closedBytesPerTask'))}`,
      undefined,
      '',
      undefined,
    );
    row(
      `11. Disk: the file after ${fmt(tasks?.median ?? 0)} tasks, default TTL and cap (MB)`,
      get('storage-disk', 'fileBytes', 1 / 1_000_000),
      `after closing ${show(get('storage-disk', 'closedFileBytes', 1 / 1_000_000), 1)} MB; ${show(get('storage-disk', 'tasksPerSec'))} tasks/s in process`,
      undefined,
      '',
      undefined,
      1,
    );
  }

  const header =
    '| measure | ebbflow, median (min–max) | peer in the same run | ratio | target | met |';
  const table = [
    header,
    '| --- | --- | --- | --- | --- | --- |',
    ...rows.map(
      (r) =>
        `| ${r.measure} | ${r.ebbflow} | ${r.peer} | ${r.ratio} | ${r.target} | ${r.met === undefined ? '' : r.met ? 'yes' : '**no**'} |`,
    ),
  ].join('\n');

  const m = input.machine;
  const during = input.loadDuring.length > 0 ? spread(input.loadDuring) : undefined;
  const loadDuring = during
    ? `median ${fmt(during.median, 2)} (${fmt(during.min, 2)}–${fmt(during.max, 2)})`
    : 'n/a';
  const raw = [...figures]
    .map(([key, runs]) => {
      const shown = runs.map((r) => {
        const { samples: _samples, ...rest } = r;
        return JSON.stringify(rest, (_k, v) => (typeof v === 'number' ? Number(v.toFixed(3)) : v));
      });
      return `- \`${key}\`: ${shown.join(', ')}`;
    })
    .join('\n');
  const document = `# ebbflow benchmarks

Written by \`npm run bench\` (bench/run.ts) on ${new Date().toISOString()}${input.quick ? ' — a **quick smoke run** with tiny sizes, not a measurement' : ''}.

## Machine

- ${m.cores} cores (${m.cpu}), ${m.ramGiB} GiB RAM, ${m.os}
- Node ${m.node}; ${m.deno}; bun ${m.bun}
- Peers: ${m.peers}
- Load average (1/5/15 min) before: ${input.loadBefore}; after: ${input.loadAfter}; the 1-minute
  figure as each case started: ${loadDuring}. The machine is shared with other agents' work, so
  every figure is compared with its peer measured in the same run.
- The run took ${input.minutes.toFixed(1)} minutes: ${input.reps} rounds (cold start ${input.quick ? 1 : input.reps + 2}, CPU ${input.quick ? 1 : input.reps + 4}), each case in a fresh process.

## Results

${table}

${input.chart ? `![Scaling timeline](${input.chart})\n\n` : ''}Where a target is missed, [NOTES.md](NOTES.md) shows why, from the profiles.

## Method

- **1. Trivial tasks**: ${fmt(input.size.tasks ?? 0)} × \`(x) => x + 1\` submitted at once through \`runtime.call\` (every result checked), after a warm-up of up to 2,000; three bursts per process, their median taken; workers pinned with \`minWorkers = maxWorkers\`. piscina with its default options and \`minThreads = maxThreads\`; raw comlink = N \`worker_threads\` each exposing the function with comlink, called round-robin.
- **2. CPU efficiency**: ${input.size.fibCount} × \`fib(${input.size.fibN})\` through ebbflow on as many workers as cores, against fib on one thread (no pool) × cores; three timed runs per process, the median taken. On a shared machine, cores × one thread's rate is more than even bare threads get while other work runs, so the same work split over as many bare threads (no pool, no message per task), measured in the same run, is shown too, with the share of the workers' time spent inside the function (times taken in the workers).
- **3. Sequential latency**: ${fmt(input.size.sequential ?? 0)} calls, each awaited before the next (2 workers), after 200 warm-up calls.
- **4. Cold start**: a function with \`minWorkers: 0\`; from \`call\` to its result (spawn, module load, run).
- **5. HTTP**: the server in its own process on 127.0.0.1 (@hono/node-server), the load generator (autocannon, 10 connections, ${input.httpSeconds} s after an uncounted warm-up of 1-2 s) in another. ebbflow = \`api/app.ts\` with the server's defaults (2 warm workers, the scaler on) over the trivial function; inline = a plain Hono app whose \`POST /functions/:name/invoke\` does the addition in the handler. Submit + long-poll = \`POST /functions/inc/tasks\` then \`GET /tasks/:id?wait=5000\`, counted per task. Any non-2xx answer fails the run. Handler = \`POST /fn/inc-http/\`, the same addition in a function's \`fetch\` export (request and response cross to the worker as bytes).
- **9. SSE fan-out**: the server as in 5; N readers hold \`GET /events?types=task\` open while tasks of the trivial function are submitted over HTTP (20 at a time) and run; each task makes three events (queued, running, completed), and the run ends when every reader has seen every completion. The same tasks run first without readers: CPU per event = (server CPU with readers − without) / events delivered.
- **6. Memory**: process RSS (after GC, median of 5 readings) with ${input.size.memWorkers} idle workers minus RSS with none but everything loaded (one worker started and stopped before), divided by ${input.size.memWorkers}. Bare worker = a \`worker_threads\` worker that only listens. Peers' workers run without tsx's loader hooks, as ebbflow's do.
- **7. Scaling**: ${input.size.burst} × \`sleep(${input.size.napMs} ms)\` (concurrency 1) from an idle pool at its minimum, with the default thresholds and steps, but a ${input.scaling.monitorMs} ms tick and ${input.scaling.downDelayMs} ms scale-down cool-down (defaults 10 s and 10 s) so that the way back fits in the run; maxWorkers ${input.scaling.maxWorkers}. "Needed" = min(maxWorkers, burst / concurrency).
- **8. Start to first result**: from \`createRuntime\` (Node host, default settings: 2 warm workers) to the first result of \`(x) => x + 1\`, against piscina from \`new Piscina\` (2 threads) to its first result; module imports excluded on both sides. "Cached" = the bundle cache as an earlier start in another process left it; "first start" = an empty cache.
- **9. Workers**: \`npm run dev:workers\` (wrangler's local runtime, workerd; 8 task shards as SQLite Durable Objects, the function in a Worker Loader isolate) beside \`npm start\` (Node), each started by its command over bench/functions and driven like case 5 (autocannon, 10 connections, ${input.httpSeconds} s after a warm-up). Local workerd runs every isolate and object in one process on this machine: this measures the local runtime's overhead, not Cloudflare's network.
- **10. Cluster**: real servers (\`node --import tsx server/node.ts\`, each its own process, the server's defaults) over the trivial function: one alone in memory, then 1, 2 and 3 sharing a private \`redis-server\` (persistence off), all on this machine. autocannon drives \`POST /functions/inc/invoke\` on every server at once (10 connections each, ${input.httpSeconds} s after an uncounted warm-up); invokes/s summed. Latency: invokes one after another on one server. Redis's own counters (\`INFO\`) are read before and after each phase: commands per task (those its scripts run included), script calls per task (one round trip each), Redis CPU per task; round trips per sequential invoke = script calls and transactions per invoke, less what the servers send while idle (measured for a second just before). Server CPU = the servers' processes (all threads) from /proc. Capped: each server runs \`nap-capped\` (bench/cluster-functions) on one worker, 16 at a time, each waiting 200 ms (40 connections per server), so a server cannot pass 80 tasks/s whatever the cores: on ${input.cores} cores the sum shows whether each added server brings its share through the shared queue. Capacity: \`redis-benchmark -c 50 -n 200000 -t set,get\` against the same kind of private Redis.
- **11. Storage**: the HTTP case (5) with the runtime keeping its tasks in memory, then in the embedded SQLite store (libsql, a temporary file, \`synchronous=NORMAL\`; \`full\` syncs every commit), one after the other in every round; ratios are taken within each round and shown as median (min–max) over the rounds. Group commit: the store's commits during the measured run, per second, and the tasks accepted per commit. Sequential invoke: case 3 over each store. Disk: 100,000 tasks of the trivial function through a runtime over the SQLite store with the server's defaults (an hour to live, 100,000 kept), submitted 1,000 at a time; the file and its write-ahead log while serving, per record kept, and the file alone after closing.

${input.failures.length > 0 ? `## Failed runs\n\n${input.failures.map((f) => `- ${f}`).join('\n')}\n\n` : ''}## Every run

${raw}
`;
  return { table, document };
};
