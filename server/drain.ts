/**
 * Graceful shutdown on SIGTERM/SIGINT, host-neutral: the first signal starts the runtime's
 * drain (`/health` answers 503, submissions 503, results and long-polls keep answering) while
 * the listener stays open; once queued and running work has finished (or the drain timeout
 * failed what was left) the listener closes and the process exits 0. A second signal ends the
 * drain at once; a third exits at once with code 1.
 * @module
 */
import { messageOf, type Runtime } from '../runtime/index.ts';

export interface DrainOptions {
  runtime: Runtime;
  /**
   * Several servers: the shared backend. A draining server takes no more of the cluster's tasks,
   * finishes what it runs, then leaves the cluster (the queue stays for the others).
   */
  cluster?: { leave(): void; close(): Promise<void> };
  /**
   * A server alone's task file: its waits answered once the runtime is closed (queued tasks stay
   * for the next start), closed last, after what the drain failed was written.
   */
  store?: { endWaits(): void; close(): Promise<void> };
  /** Stop listening and let requests in progress finish. */
  closeServer(): Promise<void>;
  exit(code: number): void;
  log(message: string): void;
  /** Only for the log line. */
  drainTimeoutMs: number;
}

/** The handler to register for SIGTERM and SIGINT. */
export const drainOnSignal = (o: DrainOptions): ((signal: string) => void) => {
  let signals = 0;
  return (signal) => {
    signals++;
    if (signals === 1) {
      o.log(
        `ebbflow: ${signal}: draining (up to ${o.drainTimeoutMs} ms; send it again to stop now)`,
      );
      void shutdown(o);
    } else if (signals === 2) {
      o.log(`ebbflow: ${signal} again: ending the drain now, unfinished tasks fail`);
      void o.runtime.close();
    } else {
      o.log(`ebbflow: ${signal} a third time: exiting at once`);
      o.exit(1);
    }
  };
};

const shutdown = async (o: DrainOptions): Promise<void> => {
  try {
    o.cluster?.leave();
    await o.runtime.close();
    o.store?.endWaits();
    await o.closeServer();
    await o.cluster?.close();
    await o.store?.close();
    o.log('ebbflow: drained, bye');
    o.exit(0);
  } catch (error) {
    o.log(`ebbflow: shutdown failed: ${messageOf(error)}`);
    o.exit(1);
  }
};
