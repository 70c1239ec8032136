/**
 * `npm run dev:workers`: the Workers build served offline by wrangler's local runtime (workerd)
 * on `HOST:PORT` (127.0.0.1:8787 by default, `PORT=0` for any free port). The `EBBFLOW_*`
 * variables of the environment become the Worker's variables, as `npm start` reads them.
 * Durable Object state persists in `EBBFLOW_WORKERS_STATE` (default `.wrangler/state`), so
 * accepted tasks survive a restart. SIGTERM or SIGINT stops workerd and exits 0. Functions are
 * compiled once at start: restart it after editing them (or run `wrangler dev`, which rebuilds).
 * @module
 */
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { stop as stopEsbuild } from 'esbuild';
import { unstable_startWorker } from 'wrangler';
import { parseSettings } from '../server/settings.ts';
import { ROOT, writeBundle } from './build.ts';
import { edgeDefaults, shardCount } from './env.ts';

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
  Object.entries(process.env)
    .filter(([name, value]) => name.startsWith('EBBFLOW_') && value !== undefined && value !== '')
    .map(([name, value]) => [name, { type: 'plain_text' as const, value: value as string }]),
);

// Built here, into a file of this process's own, so servers of different folders can run side
// by side; wrangler.toml's build command (for `wrangler dev` and `deploy`) is skipped. Files of
// servers that were killed before they could remove theirs are removed first.
const builds = join(ROOT, '.wrangler', 'ebbflow');
await mkdir(builds, { recursive: true });
for (const file of await readdir(builds)) {
  const pid = Number(/^functions\.(\d+)\.js$/.exec(file)?.[1]);
  if (pid && !alive(pid)) await rm(join(builds, file), { force: true });
}
const bundle = join(builds, `functions.${process.pid}.js`);
const folder = resolve(process.env.EBBFLOW_FUNCTIONS || './functions');
for (const warning of await writeBundle(folder, bundle)) console.warn(`ebbflow: ${warning}`);
// esbuild's service process is not needed again; left running it panics when this one exits.
await stopEsbuild();

const worker = await unstable_startWorker({
  config: resolve(ROOT, 'wrangler.toml'),
  bindings: vars,
  build: { alias: { 'ebbflow:functions': bundle }, custom: { command: '' } },
  dev: {
    server: { hostname: process.env.HOST || '127.0.0.1', port: Number(process.env.PORT ?? 8787) },
    inspector: false,
    watch: false,
    persist: resolve(process.env.EBBFLOW_WORKERS_STATE || resolve(ROOT, '.wrangler', 'state')),
    logLevel: 'warn',
  },
});
const url = (await worker.url).origin;
console.log(`ebbflow listening on ${url} (Cloudflare Workers, local)`);

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await worker.dispose();
  await rm(bundle, { force: true });
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
