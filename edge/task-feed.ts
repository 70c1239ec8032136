/**
 * Live task events out of a shard: every state change of its tasks as one NDJSON line on each
 * open stream (a Durable Object can hand a `ReadableStream` across RPC). A reader that falls
 * behind loses events instead of holding the shard up, as the contract asks of `/events`.
 * @module
 */
import type { TaskRecord } from '../runtime/types.ts';

/** Lines a reader may have waiting before newer ones are dropped for it. */
const BACKLOG = 1_000;

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

  /** Tell every open stream (a cheap no-op while nobody listens). */
  tell(record: TaskRecord): void {
    if (this.#readers.size === 0) return;
    const line = this.#encoder.encode(`${JSON.stringify(record)}\n`);
    for (const reader of this.#readers) {
      if ((reader.desiredSize ?? 1) <= 0) continue; // behind: this one loses the event
      try {
        reader.enqueue(line);
      } catch {
        this.#readers.delete(reader); // closed under us
      }
    }
  }
}
