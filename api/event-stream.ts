/**
 * Fan-out of the runtime's live events to Server-Sent-Event readers. Each event is serialised
 * once and shared; each reader has a bounded queue of frames that drops its oldest when full, so
 * a slow or stalled reader never blocks the server and never makes it hold more than
 * `MAX_PENDING_FRAMES` / `MAX_PENDING_BYTES` for that reader.
 * @module
 */
import type { Runtime, RuntimeEvent, TaskRecord } from '../runtime/index.ts';

export type EventType = RuntimeEvent['type'];
export const EVENT_TYPES: readonly EventType[] = ['task', 'scale', 'stats', 'log'];

/** Frames a reader may have waiting before its oldest are dropped. */
export const MAX_PENDING_FRAMES = 4096;
/** Bytes (UTF-16 units, near enough) a reader may have waiting. */
export const MAX_PENDING_BYTES = 1024 * 1024;

/** Frames waiting for one reader go out together, up to about this much text per write. */
const BATCH_BYTES = 64 * 1024;
/** How long a reader's first waiting event waits for others to go out with it. */
const COALESCE_MS = 10;

/** One event ready to write: the SSE text, and what readers filter on. */
export interface Frame {
  type: EventType;
  /** The function it concerns; undefined for `stats`. */
  fn: string | undefined;
  text: string;
}

/** An SSE frame; the data is JSON, which has no raw line breaks. */
export const frame = (event: string, data: unknown): string =>
  `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;

/** A task event as `/events` sends it: without its result, nor its logs (sent as `log` events). */
export const withoutResult = (record: TaskRecord): TaskRecord => {
  if (!('result' in record) && !('logs' in record)) return record;
  const { result: _result, logs: _logs, ...rest } = record;
  return rest;
};

const toFrame = (event: RuntimeEvent): Frame => {
  switch (event.type) {
    case 'task':
      return {
        type: 'task',
        fn: event.data.function,
        text: frame('task', withoutResult(event.data)),
      };
    case 'scale':
      return { type: 'scale', fn: event.data.function, text: frame('scale', event.data) };
    case 'log':
      return { type: 'log', fn: event.data.function, text: frame('log', event.data) };
    case 'stats':
      return { type: 'stats', fn: undefined, text: frame('stats', event.data) };
  }
};

/** The reader's side: what it wants, and its bounded queue. */
export class Reader {
  #frames: string[] = [];
  #head = 0;
  #bytes = 0;
  #dropped = 0;
  #wake: (() => void) | undefined;
  #closed = false;
  readonly types: ReadonlySet<EventType>;
  readonly fn: string | undefined;

  constructor(types: ReadonlySet<EventType>, fn: string | undefined) {
    this.types = types;
    this.fn = fn;
  }

  get pending(): number {
    return this.#frames.length - this.#head;
  }

  get pendingBytes(): number {
    return this.#bytes;
  }

  /** Frames dropped so far because the reader fell behind. */
  get dropped(): number {
    return this.#dropped;
  }

  wants(f: Frame): boolean {
    return (
      this.types.has(f.type) && (this.fn === undefined || f.fn === undefined || f.fn === this.fn)
    );
  }

  push(text: string): void {
    if (this.#closed) return;
    this.#frames.push(text);
    this.#bytes += text.length;
    while (
      this.pending > MAX_PENDING_FRAMES ||
      (this.#bytes > MAX_PENDING_BYTES && this.pending > 1)
    ) {
      this.#bytes -= (this.#frames[this.#head] as string).length;
      this.#frames[this.#head++] = '';
      this.#dropped++;
    }
    // Compact now and then, so the array does not keep the dropped slots.
    if (this.#head > 1024 && this.#head * 2 > this.#frames.length) {
      this.#frames = this.#frames.slice(this.#head);
      this.#head = 0;
    }
    this.#wake?.();
  }

  /**
   * The frames waiting, as one text (at most about `BATCH_BYTES`), waiting for one; undefined
   * once closed. A burst of events then costs one write to the client, not one each.
   */
  async next(): Promise<string | undefined> {
    while (this.pending === 0) {
      if (this.#closed) return undefined;
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
      this.#wake = undefined;
      // Let the events of the next few ms join this write (measured in bench/cases/sse.ts).
      if (!this.#closed) await new Promise((resolve) => setTimeout(resolve, COALESCE_MS));
    }
    let text = '';
    while (this.#head < this.#frames.length && text.length < BATCH_BYTES) {
      text += this.#frames[this.#head];
      this.#frames[this.#head++] = '';
    }
    this.#bytes -= text.length;
    if (this.#head === this.#frames.length) {
      this.#frames = [];
      this.#head = 0;
    }
    return text;
  }

  /** No more frames: the ones waiting are still read, then `next` answers undefined. */
  end(): void {
    this.#closed = true;
    this.#wake?.();
  }

  /** Gone: drop what waits. */
  close(): void {
    this.#closed = true;
    this.#frames = [];
    this.#head = 0;
    this.#bytes = 0;
    this.#wake?.();
  }
}

/** Subscribes to the runtime while it has readers; serialises each event once for them all. */
export class EventFanout {
  #runtime: Runtime;
  #readers = new Set<Reader>();
  #unsubscribe: (() => void) | undefined;
  /** With `perReader`, each reader's own subscription. */
  #own: Map<Reader, () => void> | undefined;

  /**
   * `perReader`: one runtime subscription per reader instead of one shared by all. On Workers a
   * subscription's streams and timers belong to the request that opened it and end with it.
   */
  constructor(runtime: Runtime, { perReader = false }: { perReader?: boolean } = {}) {
    this.#runtime = runtime;
    if (perReader) this.#own = new Map();
  }

  /** The readers connected now (for tests and metrics). */
  get readers(): ReadonlySet<Reader> {
    return this.#readers;
  }

  add(reader: Reader): void {
    this.#readers.add(reader);
    if (this.#own) {
      this.#own.set(
        reader,
        this.#runtime.subscribe(
          (event) => this.#publish(event, [reader]),
          () => reader.end(),
        ),
      );
      return;
    }
    // When the runtime has shut down every stream ends, so the server can close behind it.
    this.#unsubscribe ??= this.#runtime.subscribe(
      (event) => this.#publish(event),
      () => {
        for (const open of this.#readers) open.end();
      },
    );
  }

  remove(reader: Reader): void {
    reader.close();
    this.#readers.delete(reader);
    if (this.#own) {
      this.#own.get(reader)?.();
      this.#own.delete(reader);
      return;
    }
    if (this.#readers.size === 0) {
      this.#unsubscribe?.();
      this.#unsubscribe = undefined;
    }
  }

  #publish(event: RuntimeEvent, readers: Iterable<Reader> = this.#readers): void {
    let made: Frame | undefined;
    for (const reader of readers) {
      if (!reader.types.has(event.type)) continue;
      made ??= toFrame(event);
      if (reader.wants(made)) reader.push(made.text);
    }
  }
}
