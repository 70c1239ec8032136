/**
 * One pool's workers and which of them are retiring: the counts the scaler and stats read, and
 * retirement (idle workers stop at once, longest idle first; busy ones are fed nothing more and
 * stop once their tasks in flight end).
 * @module
 */
import type { WorkerHandle } from './worker-handle.ts';

export class WorkerSet {
  #workers = new Set<WorkerHandle>();
  /** Workers being retired: fed nothing more, stopped once their tasks in flight end. */
  #retiring = new Set<WorkerHandle>();

  [Symbol.iterator](): Iterator<WorkerHandle> {
    return this.#workers.values();
  }

  /** Workers, live or stopping, not yet gone. */
  get size(): number {
    return this.#workers.size;
  }

  add(worker: WorkerHandle): void {
    this.#workers.add(worker);
  }

  /** A worker is gone. */
  delete(worker: WorkerHandle): void {
    this.#workers.delete(worker);
    this.#retiring.delete(worker);
  }

  isRetiring(worker: WorkerHandle): boolean {
    return this.#retiring.has(worker);
  }

  /** Ready and not retiring: may be given work. */
  feedable(worker: WorkerHandle): boolean {
    return worker.state === 'ready' && !this.#retiring.has(worker);
  }

  /** Live workers, starting ones included, retiring ones not. */
  get count(): number {
    let n = 0;
    for (const w of this.#workers) {
      if ((w.state === 'ready' || w.state === 'starting') && !this.#retiring.has(w)) n++;
    }
    return n;
  }

  /** Tasks in flight on all of them. */
  get load(): number {
    let n = 0;
    for (const worker of this.#workers) n += worker.load;
    return n;
  }

  /** The idle worker that has been idle longest, if any. */
  longestIdle(): WorkerHandle | undefined {
    let best: WorkerHandle | undefined;
    for (const w of this.#workers) {
      if (w.state !== 'ready' || w.load > 0 || this.#retiring.has(w)) continue;
      if (!best || w.idleSince < best.idleSince) best = w;
    }
    return best;
  }

  /** Stop up to `count` idle workers, longest idle first, never below `floor`; how many. */
  shrink(count: number, floor: number): number {
    const idle = [...this.#workers]
      .filter((w) => w.state === 'ready' && w.load === 0 && !this.#retiring.has(w))
      .sort((a, b) => a.idleSince - b.idleSince);
    let retired = 0;
    for (const worker of idle) {
      if (retired >= count || this.count <= floor) break;
      void worker.stop('the worker was retired by the scaler');
      retired++;
    }
    return retired;
  }

  /**
   * Retire up to `count` workers, never below `floor`: idle ones at once (longest idle first),
   * then the least loaded busy ones once their tasks in flight end.
   */
  retire(count: number, floor: number): number {
    let retired = this.shrink(count, floor);
    const busy = [...this.#workers]
      .filter((w) => w.state === 'ready' && w.load > 0 && !this.#retiring.has(w))
      .sort((a, b) => a.load - b.load);
    for (const worker of busy) {
      if (retired >= count || this.count <= floor) break;
      this.#retiring.add(worker);
      retired++;
    }
    return retired;
  }

  /** After an outcome on `worker`: a retiring worker with nothing left in flight stops. */
  drained(worker: WorkerHandle): void {
    if (this.#retiring.has(worker) && worker.load === 0) {
      void worker.stop('the worker was retired by the scaler');
    }
  }

  /** Stop every worker. */
  async stopAll(cause: string): Promise<void> {
    await Promise.all([...this.#workers].map((w) => w.stop(cause)));
  }
}
