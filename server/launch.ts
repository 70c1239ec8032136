/**
 * Starting a server, host-neutral: read settings, load the functions, build the app, listen,
 * print the bound address, and drain on SIGTERM/SIGINT. Each host's entry in `serve/` only
 * supplies how to listen, how to spawn workers, and how signals and exit work there.
 * @module
 */
import type { Hono } from 'hono';
import { createApp } from '../api/app.ts';
import type { AssetReader } from '../api/assets.ts';
import { Metrics } from '../api/metrics.ts';
import {
  type ClusterStats,
  createRuntime,
  DEFAULTS,
  type FunctionSource,
  isEbbflowError,
  messageOf,
  type SqliteDriver,
  type TaskBackend,
  type WorkerHost,
} from '../runtime/index.ts';
import { drainOnSignal } from './drain.ts';
import { exposureWarning } from './exposure.ts';
import { localStore } from './local-store.ts';
import { parseSettings, runtimeSettings, type Settings, SettingsError, usage } from './settings.ts';

export interface Listening {
  /** The address bound, e.g. `http://127.0.0.1:8787`. */
  url: string;
  close(): Promise<void>;
}

/** Several servers sharing a task backend (docs/cluster.md). */
export interface Cluster {
  backend: TaskBackend;
  /** Totals over every server, for `/stats` and `/metrics`. */
  stats(): ClusterStats;
  /** Whether this server reported the end of task `id` (its metrics count only those). */
  reportedHere(id: string): boolean;
  /** Take no more tasks: a draining server finishes what it runs, the queue stays for others. */
  leave(): void;
  close(): Promise<void>;
}

export interface HostEntry {
  /** The runtime that serves, for the listening line: `Node 20.20.2`, `Deno 2.9.6`, `Bun 1.4.5`. */
  runtime: string;
  argv: readonly string[];
  env: Record<string, string | undefined>;
  workers: WorkerHost;
  source(folder: string): FunctionSource;
  listen(app: Hono, hostname: string, port: number): Promise<Listening>;
  onSignal(handler: (signal: string) => void): void;
  /**
   * The shared task backend when the settings name one (`EBBFLOW_REDIS_URL`), else undefined.
   * Throws when it cannot be reached.
   */
  cluster?(settings: Settings, log: (message: string) => void): Promise<Cluster | undefined>;
  /** This host's SQLite binding, for the embedded task store (loaded only when it is used). */
  sqlite?(): Promise<SqliteDriver>;
  exit(code: number): void;
  /** Reads the files of the pages (dashboard, API reference). */
  assets?: AssetReader;
  /** Appended to a failure to load or listen, e.g. the command that grants what was refused. */
  hint?(error: unknown): string;
}

export const launch = async (h: HostEntry): Promise<void> => {
  const log = (message: string) => console.error(message);
  let parsed: ReturnType<typeof parseSettings>;
  try {
    parsed = parseSettings(h.argv, h.env);
  } catch (error) {
    if (!(error instanceof SettingsError)) throw error;
    log(`ebbflow: ${error.message}`);
    return h.exit(2);
  }
  if (parsed.help) {
    console.log(usage());
    return h.exit(0);
  }
  const s = parsed.settings;
  const exposed = exposureWarning(s.host, s.token);
  if (exposed) log(exposed);
  const metrics = new Metrics();
  let cluster: Cluster | undefined;
  let store: Awaited<ReturnType<typeof localStore>>;
  try {
    cluster = await h.cluster?.(s, log);
    // A server alone keeps its tasks in its own file unless told to keep them in memory.
    if (!cluster && h.sqlite) store = await localStore(s, h.sqlite, log);
  } catch (error) {
    log(`ebbflow: ${messageOf(error)}`);
    return h.exit(1);
  }
  let runtime: Awaited<ReturnType<typeof createRuntime>>;
  try {
    runtime = await createRuntime({
      source: h.source(s.functions),
      host: h.workers,
      ...runtimeSettings(s),
      // Listen at once and serve each function as soon as it is loaded; the line below waits.
      waitForFunctions: false,
      // Every server hears every ending of the cluster; each one's metrics count its own.
      onTaskEnd: cluster
        ? (record) => (cluster?.reportedHere(record.id) ? metrics.observe(record) : undefined)
        : metrics.observe,
      backend: cluster?.backend ?? store,
      log,
    });
  } catch (error) {
    await cluster?.close();
    await store?.close();
    const why = messageOf(error);
    if (isEbbflowError(error) && error.code === 'invalid_option') {
      log(`ebbflow: invalid setting: ${why}`);
      return h.exit(2);
    }
    log(
      `ebbflow: cannot load the functions in ${s.functions} (EBBFLOW_FUNCTIONS / --functions): ${why}${h.hint?.(error) ?? ''}`,
    );
    return h.exit(1);
  }
  const app = createApp({
    runtime,
    metrics,
    maxBodyBytes: s.maxBodyBytes,
    token: s.token,
    adminToken: s.adminToken,
    maxFunctionBytes: s.maxFunctionBytes,
    maxStreams: s.maxStreams,
    corsOrigin: s.corsOrigin,
    log,
    cluster: cluster?.stats,
    assets: h.assets,
    // The dashboard's charts start with the last three minutes.
    statsHistorySeconds: 180,
  });
  let server: Listening;
  try {
    server = await h.listen(app, s.host, s.port);
  } catch (error) {
    log(
      `ebbflow: cannot listen on ${s.host}:${s.port}: ${messageOf(error)}${h.hint?.(error) ?? ''}`,
    );
    await runtime.close({ drainTimeoutMs: 0 });
    await cluster?.close();
    await store?.close();
    return h.exit(1);
  }
  h.onSignal(
    drainOnSignal({
      runtime,
      cluster,
      store,
      closeServer: () => server.close(),
      exit: h.exit,
      log,
      drainTimeoutMs: s.drainTimeoutMs ?? DEFAULTS.drainTimeoutMs,
    }),
  );
  const readiness = runtime.readiness();
  if (readiness.status === 'loading') {
    // Requests are taken from now on: a call to a function still loading waits for it.
    log(
      `ebbflow: accepting requests on ${server.url} while ${readiness.loading.length} functions load (GET /ready answers 200 once they have)`,
    );
  }
  await runtime.loaded();
  console.log(listeningLine(server.url, h.runtime, runtime.functions(), s.functions));
};

/**
 * The one line on stdout once every function found has loaded: the address, the runtime that
 * serves, and the functions (those that did not load marked).
 */
export const listeningLine = (
  url: string,
  serving: string,
  functions: readonly { name: string; status: string }[],
  folder: string,
): string => {
  const names = functions.map((f) => (f.status === 'ready' ? f.name : `${f.name} (unavailable)`));
  const what =
    names.length === 0
      ? `no functions yet (add a module to ${folder}, or deploy one)`
      : `${names.length} function${names.length === 1 ? '' : 's'}: ${names.join(', ')}`;
  return `ebbflow listening on ${url} (${serving}) with ${what}`;
};
