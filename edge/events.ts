/**
 * `subscribe` at the edge: each subscriber reads one feed per task shard (NDJSON of task changes
 * and printed lines), told as `task` and `log` events as they happen, and `stats` read from every
 * shard once a second. Nothing is shared between subscribers: in a Worker, a stream and a timer
 * belong to the request that opened them and end with it, so feeds opened for one request would
 * fall silent for every other once it ended.
 * @module
 */
import type { PoolStats, RuntimeEvent } from '../runtime/types.ts';
import type { FeedLine } from './task-feed.ts';

/** The events of the runtime contract (`Runtime.subscribe`); the edge has no `scale` events. */
export type EdgeEvent = RuntimeEvent;

export interface EventSources {
  /** One stream of NDJSON feed lines per shard. */
  feeds(): Promise<ReadableStream<Uint8Array>>[];
  /** Fresh stats (every shard asked). */
  stats(): Promise<PoolStats>;
}

/** How often `stats` is told. */
export const STATS_EVERY_MS = 1_000;

export class EdgeEvents {
  #sources: EventSources;

  constructor(sources: EventSources) {
    this.#sources = sources;
  }

  /** Open this subscriber's feeds and stats timer; the returned function closes them. */
  subscribe(listener: (event: EdgeEvent) => void): () => void {
    const tell = (event: EdgeEvent) => {
      try {
        listener(event);
      } catch {
        // A listener's failure is its own.
      }
    };
    const readers: ReadableStreamDefaultReader<Uint8Array>[] = [];
    let open = true;
    for (const pending of this.#sources.feeds()) {
      pending
        .then(async (stream) => {
          const reader = stream.getReader();
          if (!open) return void reader.cancel();
          readers.push(reader);
          const decoder = new TextDecoder();
          let buffered = '';
          for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
            buffered += decoder.decode(chunk.value, { stream: true });
            const lines = buffered.split('\n');
            buffered = lines.pop() ?? '';
            for (const line of lines) if (line) tellLine(JSON.parse(line) as FeedLine, tell);
          }
        })
        // A shard that cannot be read (or a feed cancelled at unsubscribe) just ends its part.
        .catch(() => {});
    }
    const timer = setInterval(() => {
      this.#sources.stats().then(
        (data) => open && tell({ type: 'stats', data }),
        () => {},
      );
    }, STATS_EVERY_MS);
    return () => {
      open = false;
      clearInterval(timer);
      for (const reader of readers) void reader.cancel().catch(() => {});
    };
  }
}

const tellLine = (line: FeedLine, tell: (event: EdgeEvent) => void): void => {
  if (line.type === 'task') tell({ type: 'task', data: line.record });
  else {
    const { type: _, ...data } = line;
    tell({ type: 'log', data });
  }
};
