/**
 * A host whose "workers" run in this same thread: each worker's side is `serveWorker` on the far
 * end of a `MessageChannel`. Web-standard APIs only, so it serves where no threads exist (the
 * edge build) and lets tests drive the pool deterministically. No isolation: a function that
 * blocks, blocks everything; memory limits and sandboxes do not apply.
 *
 * `terminate` cuts every port the worker side holds, so nothing it finishes later arrives; and
 * `crash` lets a test end a worker the way a dying thread would.
 * @module
 */
import type { Endpoint } from 'comlink';
import { serveWorker } from '../worker/serve.ts';
import type {
  ExitKind,
  FunctionEntry,
  PreparedFunction,
  SpawnedWorker,
  WorkerHost,
} from '../worker-host.ts';

export type ModuleLoader = (entry: FunctionEntry) => Promise<Record<string, unknown>>;

export interface InProcessHostOptions {
  /** How a function's module is loaded. @default `import(entry.url)` */
  load?: ModuleLoader;
  /** What `hardwareConcurrency()` answers. @default navigator.hardwareConcurrency, else 1 */
  cores?: number;
}

/** One in-process worker, as a test sees it. */
export interface InProcessWorker {
  readonly id: number;
  readonly function: string;
  readonly alive: boolean;
  /** End the worker as a dying thread would: its ports go dead and the pool is told. */
  crash(cause?: string, kind?: ExitKind): void;
}

export interface InProcessHost extends WorkerHost {
  /** Every worker spawned so far, in order. */
  readonly workers: readonly InProcessWorker[];
}

const importModule: ModuleLoader = (entry) => import(entry.url);

export const inProcessHost = (options: InProcessHostOptions = {}): InProcessHost => {
  const load = options.load ?? importModule;
  const workers: InProcessWorker[] = [];
  return {
    name: 'in-process',
    workers,
    hardwareConcurrency: () =>
      options.cores ??
      ((globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator
        ?.hardwareConcurrency ||
        1),
    // Each worker loads the module as it starts, as Deno's and Bun's do.
    importsAtSpawn: true,
    prepare: async (entry) => ({ entry }),
    spawn(prepared: PreparedFunction, { workerId }) {
      const worker = new Channel(workerId, prepared.entry.name);
      workers.push(worker);
      serveWorker(() => load(prepared.entry), worker.inside);
      return worker.outside;
    },
  };
};

class Channel implements InProcessWorker {
  readonly id: number;
  readonly function: string;
  readonly outside: SpawnedWorker;
  readonly inside: Endpoint;
  #alive = true;
  #ports: MessagePort[] = [];
  #exit: ((cause: string, kind?: ExitKind) => void) | undefined;

  constructor(id: number, fn: string) {
    this.id = id;
    this.function = fn;
    const channel = new MessageChannel();
    this.#ports.push(channel.port1, channel.port2);
    // Ports the pool hands over (the results port) are kept, so a terminate can cut them too.
    const inner = channel.port2;
    this.inside = {
      postMessage: (message: unknown, transfer?: Transferable[]) =>
        inner.postMessage(message, transfer ?? []),
      addEventListener: (type: string, listener: EventListenerOrEventListenerObject) => {
        inner.addEventListener(type, (event) => {
          this.#keepPorts((event as MessageEvent).data);
          if (typeof listener === 'function') listener(event);
          else listener.handleEvent(event);
        });
        inner.start();
      },
      removeEventListener: () => {},
    };
    this.outside = {
      endpoint: channel.port1 as unknown as Endpoint,
      onExit: (listener) => {
        this.#exit = listener;
      },
      terminate: async () => {
        this.#cut();
      },
    };
  }

  get alive(): boolean {
    return this.#alive;
  }

  crash(cause = 'the worker exited with code 1', kind: ExitKind = 'worker_exited'): void {
    if (!this.#alive) return;
    this.#cut();
    this.#exit?.(cause, kind);
  }

  #cut(): void {
    this.#alive = false;
    for (const port of this.#ports) port.close();
  }

  #keepPorts(value: unknown, depth = 0): void {
    if (depth > 4 || typeof value !== 'object' || value === null) return;
    if (value instanceof MessagePort) {
      this.#ports.push(value);
      return;
    }
    for (const item of Object.values(value)) this.#keepPorts(item, depth + 1);
  }
}
