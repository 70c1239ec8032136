/**
 * The bound on requests that stay open: event streams (`/events`, a task's stream) and
 * long-polls (`GET /tasks/:id?wait=`) together hold at most `max` slots. Past it a new one gets
 * 503 `too_many_streams` with `Retry-After`; a slot comes back once, the moment its request ends
 * or its client goes away, so opening and dropping connections never uses one up.
 * @module
 */
import { ApiError } from './errors.ts';

/** Seconds a client refused a slot is told to wait before it tries again. */
export const STREAM_RETRY_AFTER_S = 5;

export class StreamSlots {
  readonly max: number;
  /**
   * Set where the host learns that a client has gone only when a write to it fails (local
   * workerd): open streams write a keep-alive this often, and a long-poll that lasts longer
   * begins its answer and writes a space this often (api/probed-poll.ts).
   */
  readonly probeMs: number | undefined;
  #open = 0;

  constructor(max: number, probeMs?: number) {
    this.max = max;
    this.probeMs = probeMs;
  }

  /** Slots held now. */
  get open(): number {
    return this.#open;
  }

  /**
   * A slot, or 503 `too_many_streams` when all are held. The function it returns gives the slot
   * back; calling it again does nothing.
   */
  take(): () => void {
    if (this.#open >= this.max) {
      throw new ApiError(
        503,
        'too_many_streams',
        `this server already holds ${this.max} event streams and long-polls (EBBFLOW_MAX_STREAMS); retry later`,
        { headers: { 'Retry-After': String(STREAM_RETRY_AFTER_S) } },
      );
    }
    this.#open++;
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      this.#open--;
    };
  }
}
