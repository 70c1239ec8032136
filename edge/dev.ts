/**
 * `npm run dev:workers`: the Workers build served offline by the local Workers runtime (workerd,
 * through Miniflare, the runtime wrangler runs) on `HOST:PORT` (127.0.0.1:8787 by default,
 * `PORT=0` for any free port). wrangler.toml is read with wrangler's own reader
 * (`unstable_getMiniflareWorkerOptions`: bindings, Durable Objects, the Worker Loader, the static
 * assets), the Worker is bundled with esbuild as wrangler would, and workerd serves it directly:
 * no proxy process in front (wrangler's dev proxy cost about 1.3 ms of CPU per request, a second
 * process on a 2-core machine). The `EBBFLOW_*` variables of the environment become the Worker's
 * variables, as `npm start` reads them. The functions' isolates run in a second workerd the
 * runner restarts when a function computes past its timeout without end (`EBBFLOW_WORKERS_ISOLATES=
 * inline`: in the first, as `wrangler dev` does). Durable Object state persists in `EBBFLOW_WORKERS_STATE`
 * (default `.wrangler/state`), so accepted tasks survive a restart. What the Worker prints goes to
 * stdout (`console.log`/`info`) or stderr (`warn`/`error`) as it is. SIGTERM or SIGINT stops
 * workerd and exits 0. Functions are compiled once at start: restart it after editing them (or run
 * `wrangler dev`, which rebuilds).
 * @module
 */
import { mkdir, readdir, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { join, resolve } from 'node:path';
import { build, stop as stopEsbuild } from 'esbuild';
import { Log, LogLevel, Miniflare } from 'miniflare';
import { unstable_getMiniflareWorkerOptions } from 'wrangler';
import { parseSettings } from '../server/settings.ts';
import { ROOT, writeAssets, writeBundle } from './build.ts';
import { edgeDefaults, shardCount } from './env.ts';
import { HOST_PATHS } from './isolate-host-wire.ts';
import { COMPATIBILITY_DATE } from './isolate-loader.ts';

/**
 * How long the isolate host may go without answering, once a run passed its timeout, before it
 * is restarted: a function that computes a while past its timeout and then ends is waited for
 * (restarting fails the other functions' runs in the host), one that never ends is not.
 */
const STALL_CHECK_MS = 5_000;

// wrangler stays offline: no metrics, no error reports, no update check.
Object.assign(process.env, {
  WRANGLER_SEND_METRICS: 'false',
  WRANGLER_SEND_ERROR_REPORTS: 'false',
  WRANGLER_HIDE_BANNER: 'true',
  CLOUDFLARE_CF_FETCH_ENABLED: 'false',
});

// Bad settings stop here, named, with the exit code of the other hosts (2), rather than as a
// failure of every request.
try {
  parseSettings([], process.env);
  edgeDefaults(process.env);
  shardCount(process.env);
} catch (error) {
  console.error(`ebbflow: ${(error as Error).message}`);
  process.exit(2);
}

const vars = Object.fromEntries(
  Object.entries(process.env).filter(
    (entry): entry is [string, string] =>
      entry[0].startsWith('EBBFLOW_') && entry[1] !== undefined && entry[1] !== '',
  ),
);

// Built here, into a file of this process's own, so servers of different folders can run side
// by side. Files of servers that were killed before they could remove theirs are removed first.
const builds = join(ROOT, '.wrangler', 'ebbflow');
await mkdir(builds, { recursive: true });
for (const file of await readdir(builds)) {
  const pid = Number(/^functions\.(\d+)\.js$/.exec(file)?.[1]);
  if (pid && !alive(pid)) await rm(join(builds, file), { force: true });
}
const functions = join(builds, `functions.${process.pid}.js`);
const folder = resolve(process.env.EBBFLOW_FUNCTIONS || './functions');
for (const warning of await writeBundle(folder, functions)) console.warn(`ebbflow: ${warning}`);
await writeAssets();

// The Worker as wrangler bundles it: one ES module, `ebbflow:functions` the build above. The
// isolate host the same way.
const bundle = async (entry: string): Promise<string> => {
  const built = await build({
    entryPoints: [join(ROOT, 'edge', entry)],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    conditions: ['workerd', 'worker', 'browser'],
    mainFields: ['browser', 'module', 'main'],
    external: ['cloudflare:*', 'node:*'],
    alias: { 'ebbflow:functions': functions },
    logLevel: 'silent',
  });
  return (built.outputFiles[0] as { text: string }).text;
};
const [workerJs, hostJs] = await Promise.all([bundle('worker.ts'), bundle('isolate-host.ts')]);
// esbuild's service process is not needed again; left running it panics when this one exits.
await stopEsbuild();

// What the Worker prints, as it printed it: no "✘ [ERROR]" decoration, no request log.
const printed = ({ level, message }: { level: string; message: string }) => {
  if (level === 'error' || level === 'warn') console.error(message);
  else console.log(message);
};

// The functions' isolates run in a workerd of their own (edge/isolate-host.ts): local workerd
// enforces no CPU limit and runs a process's Workers on one thread, so a function that computes
// without pause holds that process only, and is restarted here once a run of it has passed its
// timeout and the host no longer answers.
const isolateHost = (port: number) =>
  new Miniflare({
    name: 'ebbflow-isolates',
    modules: [{ type: 'ESModule', path: join(ROOT, 'edge', 'isolate-host.js'), contents: hostJs }],
    compatibilityDate: COMPATIBILITY_DATE,
    workerLoaders: { LOADER: {} },
    host: '127.0.0.1',
    port: 0,
    // Straight to the host's Worker, without Miniflare's entry Worker in front (which would,
    // among other things, compress answers as Cloudflare's edge does).
    unsafeDirectSockets: [{ host: '127.0.0.1', port }],
    log: new Log(LogLevel.WARN),
    handleStructuredLogs: printed,
  });
let stopping = false;
// `EBBFLOW_WORKERS_ISOLATES=inline`: the isolates in the Worker's own workerd, as `wrangler dev`
// does: faster (docs/workers.md, "Speed"), but a CPU loop then holds everything.
const inline = process.env.EBBFLOW_WORKERS_ISOLATES === 'inline';
let host = inline ? undefined : isolateHost(0);
await host?.ready;
const hostPort = host ? Number((await host.unsafeGetDirectURL()).port) : 0;
let restarting: Promise<void> | undefined;
/** Restart the isolate host when it does not answer within `STALL_CHECK_MS`. */
const supervise = async (): Promise<void> => {
  if (!host || restarting || stopping || (await answers(hostPort, STALL_CHECK_MS))) return;
  restarting = (async () => {
    console.error(
      `ebbflow: the functions' isolates did not answer for ${STALL_CHECK_MS} ms after a run passed its timeout (a function computing without pause); restarting them`,
    );
    await host?.dispose();
    host = isolateHost(hostPort);
    await host.ready;
  })()
    .catch((error: unknown) => console.error(`ebbflow: restarting the isolates: ${error}`))
    .finally(() => {
      restarting = undefined;
    });
  await restarting;
};

const { workerOptions } = unstable_getMiniflareWorkerOptions(resolve(ROOT, 'wrangler.toml'));
const state = resolve(process.env.EBBFLOW_WORKERS_STATE || resolve(ROOT, '.wrangler', 'state'));
const mf = new Miniflare({
  ...workerOptions,
  name: 'ebbflow',
  modules: [
    {
      type: 'ESModule',
      path: join(ROOT, 'edge', 'worker.js'),
      contents: workerJs,
    },
  ],
  bindings: { ...workerOptions.bindings, ...vars },
  serviceBindings: {
    ...workerOptions.serviceBindings,
    ...(host
      ? {
          ISOLATE_HOST: { external: { address: `127.0.0.1:${hostPort}`, http: {} } },
          ISOLATE_SUPERVISOR: () => {
            void supervise();
            return new Response(null, { status: 202 });
          },
        }
      : {}),
  },
  // Requests go straight to the Worker, not through Miniflare's entry Worker (a Worker of its
  // own per request that copies it, logs it and may compress the answer: about an eighth of the
  // CPU of an invoke, measured with bench/cases/edge.ts). Its own socket stays on loopback.
  host: '127.0.0.1',
  port: 0,
  unsafeDirectSockets: [
    { host: process.env.HOST || '127.0.0.1', port: Number(process.env.PORT ?? 8787) },
  ],
  defaultPersistRoot: state,
  log: new Log(LogLevel.WARN),
  handleStructuredLogs: printed,
});
await mf.ready;
const url = (await mf.unsafeGetDirectURL()).origin;
console.log(`ebbflow listening on ${url} (Cloudflare Workers, local)`);

const stop = async () => {
  if (stopping) return;
  stopping = true;
  await mf.dispose();
  await restarting;
  await host?.dispose();
  await rm(functions, { force: true });
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

/** Whether the isolate host answers its health check within `ms` (a connection of its own). */
function answers(port: number, ms: number): Promise<boolean> {
  return new Promise((done) => {
    const req = request(
      { host: '127.0.0.1', port, path: HOST_PATHS.health, agent: false, timeout: ms },
      (res) => {
        res.resume();
        done(res.statusCode === 200);
      },
    );
    req.on('timeout', () => req.destroy());
    req.on('error', () => done(false));
    req.end();
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
