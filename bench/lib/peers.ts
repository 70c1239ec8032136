/**
 * The peers ebbflow is measured against, each running the same trivial function:
 * piscina with its default options (thread count pinned), and raw comlink over N
 * worker_threads called round-robin with no pool logic at all.
 */
import { Worker } from 'node:worker_threads';
import { type Remote, wrap } from 'comlink';
import { Piscina } from 'piscina';
import { nodeEndpoint } from '../../runtime/host/node-endpoint.ts';

export interface Peer {
  call(x: number): Promise<number>;
  close(): Promise<unknown>;
}

/**
 * The cases run under tsx, whose loader hooks a worker inherits by default; peers' workers run
 * plain JavaScript without them, as ebbflow's do (its Node host drops loader flags).
 */
export const PLAIN: string[] = [];

const peerFile = (name: string) => new URL(`../peers/${name}`, import.meta.url);

export const startPiscina = (workers: number): Peer => {
  const pool = new Piscina({
    filename: peerFile('piscina-inc.mjs').href,
    minThreads: workers,
    maxThreads: workers,
    execArgv: PLAIN,
  });
  return { call: (x) => pool.run(x), close: () => pool.destroy() };
};

export const startComlink = async (workers: number): Promise<Peer> => {
  const threads = Array.from(
    { length: workers },
    () => new Worker(peerFile('comlink-inc.mjs'), { execArgv: PLAIN }),
  );
  const remotes: Array<Remote<(x: number) => number>> = threads.map((t) => wrap(nodeEndpoint(t)));
  await Promise.all(remotes.map((r) => r(0)));
  let next = 0;
  return {
    call: (x) => {
      const remote = remotes[next] as Remote<(x: number) => number>;
      next = (next + 1) % remotes.length;
      return remote(x);
    },
    close: () => Promise.all(threads.map((t) => t.terminate())),
  };
};

export const startPeer = async (impl: string, workers: number): Promise<Peer> => {
  if (impl === 'piscina') return startPiscina(workers);
  if (impl === 'comlink') return startComlink(workers);
  throw new Error(`unknown implementation "${impl}"`);
};
