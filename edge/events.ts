/**
 * `subscribe` at the edge: while anyone listens, one feed per task shard (NDJSON of records) is
 * read and told as `task` events (with the printed lines of an ended task as `log` events), and
 * `stats` is read from every shard once a second. Nothing is read while nobody listens.
 * @module
 */
import type { PoolStats, RuntimeEvent, TaskRecord } from '../runtime/types.ts';

/** The events of the runtime contract (`Runtime.subscribe`); the edge has no `scale` events. */
export type EdgeEvent = RuntimeEvent;

export interface EventSources {
  /** One stream of NDJSON records per shard. */
  feeds(): Promise<ReadableStream<Uint8Array>>[];
  /** Fresh stats (every shard asked). */
  stats(): Promise<PoolStats>;
}

const TERMINAL = new Set(['completed', 'failed', 'cancelled']);

export class EdgeEvents {
  #sources: EventSources;
  #listeners = new Set<(event: EdgeEvent) => void>();
  #stop: (() => void) | undefined;

  constructor(sources: EventSources) {
    this.#sources = sources;
  }

  subscribe(listener: (event: EdgeEvent) => void): () => void {
    this.#listeners.add(listener);
    if (this.#listeners.size === 1) this.#stop = this.#open();
    return () => {
      this.#listeners.delete(listener);
      if (this.#listeners.size === 0) {
        this.#stop?.();
        this.#stop = undefined;
      }
    };
  }

  #tell(event: EdgeEvent): void {
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch {
        // A listener's failure is its own; the others are still told.
      }
    }
  }

  #open(): () => void {
    const readers: ReadableStreamDefaultReader<Uint8Array>[] = [];
    let open = true;
    for (const pending of this.#sources.feeds()) {
      pending
        .then(async (stream) => {
          const reader = stream.getReader();
          const decoder = new TextDecoder();
          if (!open) return void reader.cancel();
          readers.push(reader);
          let buffered = '';
          for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
            buffered += decoder.decode(chunk.value, { stream: true });
            const lines = buffered.split('\n');
            buffered = lines.pop() ?? '';
            for (const line of lines) if (line) this.#record(JSON.parse(line) as TaskRecord);
          }
        })
        // A shard that cannot be read (or a feed cancelled at unsubscribe) just ends its part.
        .catch(() => {});
    }
    const timer = setInterval(() => {
      this.#sources.stats().then(
        (data) => this.#tell({ type: 'stats', data }),
        () => {},
      );
    }, 1_000);
    return () => {
      open = false;
      clearInterval(timer);
      for (const reader of readers) void reader.cancel().catch(() => {});
    };
  }

  #record(record: TaskRecord): void {
    this.#tell({ type: 'task', data: record });
    // Lines are collected in the isolate and arrive with the ended task.
    if (!TERMINAL.has(record.status)) return;
    for (const log of record.logs ?? []) {
      this.#tell({ type: 'log', data: { taskId: record.id, function: record.function, ...log } });
    }
  }
}
