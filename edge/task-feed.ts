/**
 * Live events out of a shard: every state change of its tasks, and every line a run prints (as
 * it is printed), as one NDJSON line on each open stream (a Durable Object can hand a
 * `ReadableStream` across RPC). A reader that falls behind loses lines instead of holding the
 * shard up, as the contract asks of `/events`. Each stream belongs to the request that opened it.
 * @module
 */
import type { TaskLog, TaskRecord } from '../runtime/types.ts';

/** Lines a reader may have waiting before newer ones are dropped for it. */
const BACKLOG = 1_000;

/** One line of a shard's feed. */
export type FeedLine =
  | { type: 'task'; record: TaskRecord }
  | ({ type: 'log'; taskId: string; function: string } & TaskLog);

export class TaskFeed {
  #readers = new Set<ReadableStreamDefaultController<Uint8Array>>();
  #encoder = new TextEncoder();

  /** A new stream of the changes from now on; it ends when its reader cancels it. */
  open(): ReadableStream<Uint8Array> {
    let reader: ReadableStreamDefaultController<Uint8Array> | undefined;
    return new ReadableStream<Uint8Array>(
      {
        start: (controller) => {
          reader = controller;
          this.#readers.add(controller);
        },
        cancel: () => {
          if (reader) this.#readers.delete(reader);
        },
      },
      { highWaterMark: BACKLOG },
    );
  }

  /** Whether anyone reads the feed now. */
  get listening(): boolean {
    return this.#readers.size > 0;
  }

  /** Tell every open stream (a cheap no-op while nobody listens). */
  tell(line: FeedLine): void {
    if (this.#readers.size === 0) return;
    const bytes = this.#encoder.encode(`${JSON.stringify(line)}\n`);
    for (const reader of this.#readers) {
      if ((reader.desiredSize ?? 1) <= 0) continue; // behind: this one loses the line
      try {
        reader.enqueue(bytes);
      } catch {
        this.#readers.delete(reader); // closed under us
      }
    }
  }
}
