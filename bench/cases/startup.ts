/**
 * Case 8, start to first result: from `createRuntime` over a folder of functions (the Node host:
 * bundle, probe, warm workers) to the first result of the trivial one, against piscina from
 * `new Piscina` to its first result. The bundle cache is either empty (`cold`: a fresh folder,
 * as on a first start) or as the same start left it in another process (`warm`: a restart).
 * `server`: the whole server as `npm start` runs it, from spawning the process to the first
 * invoke answered over HTTP, `launched` (through its launcher, server/start.mjs, which starts
 * the server without its secrets) or `alone` (the server process as the launcher starts it, its
 * environment written on its stdin here): the ratio is what the launcher costs.
 * Usage: startup.ts <ebbflow|piscina> [cold|warm] [one|all]   (one: inc only; all: bench/functions)
 *        startup.ts server <launched|alone>
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import { folderSource } from '../../runtime/host/fs-source.ts';
import { nodeHost } from '../../runtime/host/node.ts';
import { createRuntime, type FunctionSource } from '../../runtime/index.ts';
import { cleanedEnvironment } from '../../server/launch.mjs';
import { arg, emit } from '../lib/emit.ts';
import { FIXTURES } from '../lib/fixture-runtime.ts';
import { PLAIN } from '../lib/peers.ts';

const impl = arg(0, 'ebbflow');
const cache = arg(1, 'cold');
const functions = arg(2, 'one');

const source = (): FunctionSource => {
  const folder = folderSource(FIXTURES);
  if (functions === 'all') return folder;
  return {
    async list() {
      const listing = await folder.list();
      return { ...listing, entries: listing.entries.filter((e) => e.name === 'inc') };
    },
  };
};

/** createRuntime → first result, with the bundle cache in `cacheDir`. */
const start = async (cacheDir: string) => {
  const started = performance.now();
  const runtime = await createRuntime({
    source: source(),
    host: nodeHost({ bundleCache: cacheDir }),
    log: () => {},
  });
  const loadedMs = performance.now() - started;
  const record = await runtime.call('inc', [1]);
  const ms = performance.now() - started;
  if (record.result !== 2) throw new Error(`first call failed: ${record.error}`);
  await runtime.close();
  return { ms, loadedMs };
};

if (impl === 'ebbflow-prime') {
  // Run by a `warm` case in its own process, so the measured start is a true restart.
  await start(cache);
} else if (impl === 'ebbflow') {
  const cacheDir = mkdtempSync(join(tmpdir(), 'ebbflow-bench-cache-'));
  try {
    if (cache === 'warm') {
      const self = fileURLToPath(import.meta.url);
      execFileSync(process.execPath, [
        ...process.execArgv,
        self,
        'ebbflow-prime',
        cacheDir,
        functions,
      ]);
    }
    emit(await start(cacheDir));
  } finally {
    rmSync(cacheDir, { recursive: true, force: true });
  }
} else if (impl === 'server') {
  emit({ ms: await serverStart(cache === 'alone') });
} else if (impl === 'piscina') {
  const started = performance.now();
  const filename = new URL('../peers/piscina-inc.mjs', import.meta.url).href;
  const pool = new Piscina({ filename, minThreads: 2, maxThreads: 2, execArgv: PLAIN });
  const result = await pool.run(1);
  const ms = performance.now() - started;
  if (result !== 2) throw new Error('first call failed');
  await pool.destroy();
  emit({ ms });
} else {
  throw new Error(`unknown implementation "${impl}"`);
}

/** Spawn → first invoke of `inc` answered, for the server started as `npm start` starts it. */
async function serverStart(alone: boolean): Promise<number> {
  const root = fileURLToPath(new URL('../..', import.meta.url));
  const env = {
    ...process.env,
    PORT: '0',
    EBBFLOW_FUNCTIONS: FIXTURES,
    EBBFLOW_MIN_WORKERS: '1',
  };
  const started = performance.now();
  // Launched: `npm start`'s command. Alone: the command its launcher runs.
  const command = alone ? ['--import', 'tsx', 'server/start.ts'] : ['server/start.mjs'];
  const child = spawn(process.execPath, command, {
    cwd: root,
    env: alone ? cleanedEnvironment(env) : env,
    stdio: ['pipe', 'pipe', 'pipe'],
    detached: true,
  });
  // Alone: what the launcher would write (and the pipe it would hold open).
  if (alone) child.stdin.write(`${JSON.stringify(env)}\n`);
  const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (chunk) => {
        out += chunk;
        const found = /ebbflow listening on (http:\/\/\S+:\d+)/.exec(out);
        if (found) resolve(found[1] as string);
      });
      child.once('exit', (code) =>
        reject(new Error(`the server exited (${code}) before listening`)),
      );
    });
    const res = await fetch(`${url}/functions/inc/invoke`, {
      method: 'POST',
      body: JSON.stringify({ args: [1] }),
    });
    const record = (await res.json()) as { result?: unknown };
    const ms = performance.now() - started;
    if (record.result !== 2) throw new Error(`first call failed: ${JSON.stringify(record)}`);
    return ms;
  } finally {
    process.kill(-(child.pid as number), 'SIGTERM');
    await gone;
  }
}
