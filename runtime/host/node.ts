/**
 * The Node host: each function is bundled once with esbuild (TypeScript included, about 37 ms
 * from spawn to first call, against 280 ms through a tsx loader) and run in `worker_threads`
 * with a memory limit (V8's heap limit, and heap plus buffers checked by the worker) and only the
 * variables their config names. Workers share the server's process: see docs/security.md for
 * what that leaves a function able to read.
 * Bundles are kept on disk by content hash (bundle-cache.ts), so a restart skips esbuild.
 * @module
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker, type WorkerOptions } from 'node:worker_threads';
import type { FunctionEntry, PreparedFunction, SpawnedWorker, WorkerHost } from '../worker-host.ts';
import { BundleCache, defaultCacheDir, sha256 } from './bundle-cache.ts';
import { nodeEndpoint } from './node-endpoint.ts';
import { nodeSample } from './node-pressure.ts';
import { envRefusal, grantedEnv } from './permissions.ts';

interface NodePrepared extends PreparedFunction {
  bundle: URL;
}

const workerEntry = fileURLToPath(new URL('./node-worker-entry.ts', import.meta.url));

/** Flags that load code (tsx's hooks when the server runs under tsx) and take a value. */
const LOADER_FLAGS = new Set(['--import', '--require', '-r', '--loader', '--experimental-loader']);

/**
 * The server's flags minus its loader hooks: a function's bundle is plain JavaScript, and a
 * worker that inherits tsx's hooks loads them again (measured on Node 20: +7 MiB RSS per idle
 * worker and +45 ms per cold start). `undefined` (inherit) when there is nothing to drop.
 */
let workerExecArgv: string[] | undefined = (() => {
  const kept = process.execArgv.filter((flag, i, all) => {
    const name = flag.split('=', 1)[0] as string;
    return !LOADER_FLAGS.has(name) && !LOADER_FLAGS.has(all[i - 1] as string);
  });
  return kept.length === process.execArgv.length ? undefined : kept;
})();

// Node refuses V8 flags (--expose-gc, --max-old-space-size) in an explicit execArgv; they are
// process-wide and apply to workers anyway, so the worker then starts with no flags of its own.
const newWorker = (url: URL, options: WorkerOptions): Worker => {
  try {
    return new Worker(url, { ...options, execArgv: workerExecArgv });
  } catch (error) {
    if ((error as { code?: string }).code !== 'ERR_WORKER_INVALID_EXEC_ARGV') throw error;
    workerExecArgv = [];
    return new Worker(url, { ...options, execArgv: workerExecArgv });
  }
};

export interface NodeHostOptions {
  /**
   * The folder that keeps function bundles between starts, or `false` to bundle on every start.
   * @default a folder of this user's under the OS temp dir
   */
  bundleCache?: string | false;
  /**
   * The variables a function's `config.permissions.env` picks from (a worker sees none unless
   * its config names them). The server passes what its launcher handed over, minus its own
   * settings (server/clean-env.ts); an embedder may pass its own.
   * @default process.env
   */
  env?: Readonly<Record<string, string | undefined>>;
  /** Variables never granted, even when a config names them: the function is refused. */
  reservedEnv?: readonly string[];
}

/** esbuild's version, read without loading esbuild (a cache hit never needs it). */
const esbuildVersion = (): string =>
  (createRequire(import.meta.url)('esbuild/package.json') as { version: string }).version;

/** This file holds the build options, so a change to it makes every cached bundle stale. */
const thisFile = fileURLToPath(import.meta.url);

export const nodeHost = ({
  bundleCache = defaultCacheDir(),
  env,
  reservedEnv,
}: NodeHostOptions = {}): WorkerHost => {
  const cache = bundleCache === false ? undefined : new BundleCache(bundleCache);
  let cacheDir: Promise<string> | undefined;
  let bundles = 0;
  const dir = () => {
    cacheDir ??= mkdtemp(join(tmpdir(), 'ebbflow-'));
    return cacheDir;
  };
  return {
    name: 'node',
    hardwareConcurrency: () => availableParallelism(),
    sample: nodeSample,
    refuses: (_entry, permissions) => envRefusal(permissions.env, reservedEnv),
    async prepare(entry) {
      const key = cache
        ? sha256(
            JSON.stringify([
              esbuildVersion(),
              entry.url,
              sha256(await readFile(fileURLToPath(entry.url))),
            ]),
          )
        : undefined;
      const cached = key ? await cache?.get(key) : undefined;
      if (cached) return { entry, bundle: cached } satisfies NodePrepared;
      const { code, inputs } = await bundleFunction(entry);
      const stored = key && inputs ? await cache?.put(key, code, [...inputs, thisFile]) : undefined;
      if (stored) return { entry, bundle: stored } satisfies NodePrepared;
      // One file per preparation: a new version's bundle never replaces one that workers load.
      const file = join(await dir(), `${entry.name}-${++bundles}.mjs`);
      await writeFile(file, code);
      return { entry, bundle: pathToFileURL(file) } satisfies NodePrepared;
    },
    spawn(prepared, { workerId, memoryLimitMb, permissions }) {
      const worker = newWorker((prepared as NodePrepared).bundle, {
        name: `ebbflow:${prepared.entry.name}#${workerId}`,
        env: grantedEnv(permissions?.env, env),
        resourceLimits: { maxOldGenerationSizeMb: memoryLimitMb },
        // The worker checks heap plus buffers against this (node-worker-entry.ts).
        workerData: { memoryLimitMb },
        // Its output comes through here, each line labelled: a function never prints as the server.
        stdout: true,
        stderr: true,
      });
      const label = `function ${prepared.entry.name}#${workerId}`;
      labelLines(worker.stdout, label, process.stdout);
      labelLines(worker.stderr, label, process.stderr);
      return watchWorker(worker, memoryLimitMb);
    },
    async dispose() {
      if (cacheDir) await rm(await cacheDir, { recursive: true, force: true });
      cacheDir = undefined;
    },
  };
};

/** The bundle, and the files it was built from (undefined when one is not a plain file). */
const bundleFunction = async (
  entry: FunctionEntry,
): Promise<{ code: string; inputs: string[] | undefined }> => {
  const modulePath = fileURLToPath(entry.url);
  // A version's copy stands for the module file in the folder: that is where the function is.
  const home = entry.home ?? entry.url;
  const homePath = fileURLToPath(home);
  // Loaded on the first build only: a start that finds every bundle cached never needs it.
  const { build } = await import('esbuild');
  try {
    const result = await build({
      entryPoints: [workerEntry],
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      write: false,
      metafile: true,
      logLevel: 'silent',
      // Functions see their own location, not the bundle's.
      define: {
        'import.meta.url': JSON.stringify(home),
        'import.meta.filename': JSON.stringify(homePath),
        'import.meta.dirname': JSON.stringify(join(homePath, '..')),
      },
      banner: {
        js: `import { createRequire as __ebbflowRequire } from 'node:module'; const require = __ebbflowRequire(${JSON.stringify(home)});`,
      },
      plugins: [
        {
          name: 'ebbflow-function',
          setup(b) {
            b.onResolve({ filter: /^ebbflow:function$/ }, () => ({ path: modulePath }));
          },
        },
      ],
    });
    const inputs = Object.keys(result.metafile.inputs);
    return {
      code: result.outputFiles[0]?.text ?? '',
      // Paths are relative to the working directory; another namespace would be `ns:path`.
      inputs: inputs.some((input) => /^[a-z][\w-]+:/i.test(input))
        ? undefined
        : inputs.map((input) => resolve(input)),
    };
  } catch (error) {
    const errors = (error as { errors?: Array<{ text: string; location?: { line: number } }> })
      .errors;
    const first = errors?.[0];
    if (!first) throw error;
    const where = first.location ? ` (line ${first.location.line})` : '';
    throw new Error(`${first.text}${where}`);
  }
};

/** Copy `from` to `to` with `[label] ` before every line (a last line without `\n` included). */
const labelLines = (from: Readable, label: string, to: Writable): void => {
  let partial = '';
  from.setEncoding('utf8');
  from.on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop() as string;
    if (lines.length > 0) to.write(`${lines.map((line) => `[${label}] ${line}`).join('\n')}\n`);
  });
  from.on('end', () => {
    if (partial !== '') to.write(`[${label}] ${partial}\n`);
  });
};

const watchWorker = (worker: Worker, memoryLimitMb: number): SpawnedWorker => {
  let lastError: (Error & { code?: string }) | undefined;
  let stopping = false;
  worker.on('error', (error) => {
    lastError = error;
  });
  return {
    endpoint: nodeEndpoint(worker),
    onExit(listener) {
      worker.once('exit', (code) => {
        if (stopping) return listener('the worker was stopped');
        if (lastError?.code === 'ERR_WORKER_OUT_OF_MEMORY') {
          return listener(
            `the worker ran out of memory (limit ${memoryLimitMb} MiB): its JavaScript heap passed it`,
            'out_of_memory',
          );
        }
        if (lastError) return listener(`the worker crashed: ${lastError.message}`);
        listener(`the worker exited with code ${code}`);
      });
    },
    async terminate() {
      stopping = true;
      await worker.terminate();
    },
    busyTimeMs: () => worker.performance.eventLoopUtilization().active,
  };
};
