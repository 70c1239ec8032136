/**
 * Who on this server follows which task, woken by the events channel. A follower keeps the
 * latest change it was told of until it asks for it, so two changes arriving together (a fast
 * task's `running` and `completed` in one read from the socket) never lose the second.
 *
 * It also remembers what it heard of the tasks submitted here in the last seconds: the events
 * channel delivers every change of a task from its submit on while the subscription holds, so
 * an invoke waiting right after its submit needs no read of its own (one round trip less per
 * task). When the subscription breaks, anything may have been missed: every follower reads again.
 * @module
 */
import type { TaskRecord } from '../../types.ts';

interface Fresh {
  at: number;
  record?: TaskRecord;
}

/** Submits remembered at most (the oldest forgotten first), and for at most this long. */
const FRESH_MAX = 1_000;
const FRESH_MS = 10_000;

/** One caller following one task. */
export interface Follower {
  /**
   * The task's latest change since the last call, as soon as there is one; undefined after `ms`
   * without one, or when what was heard may be incomplete (read the record then). Rejects once
   * the store stopped answering.
   */
  next(ms: number): Promise<TaskRecord | undefined>;
  close(): void;
}

class Follow implements Follower {
  #latest: TaskRecord | undefined;
  /** Set when a change may have been missed: the next `next` answers undefined at once. */
  #stale = false;
  #failure: Error | undefined;
  #pending: { resolve(record?: TaskRecord): void; reject(error: Error): void } | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #close: () => void;

  constructor(close: () => void) {
    this.#close = close;
  }

  tell(record: TaskRecord): void {
    this.#latest = record;
    this.#settle();
  }

  lost(): void {
    this.#stale = true;
    this.#settle();
  }

  fail(error: Error): void {
    this.#failure = error;
    this.#settle();
  }

  next(ms: number): Promise<TaskRecord | undefined> {
    return new Promise((resolve, reject) => {
      this.#pending = { resolve, reject };
      if (this.#failure || this.#latest || this.#stale) return this.#settle();
      this.#timer = setTimeout(() => this.#settle(), ms);
    });
  }

  close(): void {
    clearTimeout(this.#timer);
    this.#pending = undefined;
    this.#close();
  }

  #settle() {
    const pending = this.#pending;
    if (!pending) return;
    this.#pending = undefined;
    clearTimeout(this.#timer);
    if (this.#failure) return pending.reject(this.#failure);
    const latest = this.#latest;
    this.#latest = undefined;
    this.#stale = false;
    pending.resolve(latest);
  }
}

export class TaskWatch {
  #followers = new Map<string, Set<Follow>>();
  /** Tasks submitted here lately, with their latest record heard (insertion order = age). */
  #fresh = new Map<string, Fresh>();

  /** Before a submit of `id` is sent: from now on its changes are kept. */
  expect(id: string, now: number): void {
    for (const [old, entry] of this.#fresh) {
      if (this.#fresh.size < FRESH_MAX && now - entry.at < FRESH_MS) break;
      this.#fresh.delete(old);
    }
    this.#fresh.set(id, { at: now });
  }

  /** The submit was answered with `record` (a change heard meanwhile is newer: kept). */
  submitted(record: TaskRecord): void {
    const entry = this.#fresh.get(record.id);
    if (entry && !entry.record) entry.record = record;
  }

  /** The submit failed, or its task was waited for to the end: nothing more to remember. */
  forget(id: string): void {
    this.#fresh.delete(id);
  }

  /** The latest record of a task submitted here, known without a read; else undefined. */
  known(id: string): TaskRecord | undefined {
    return this.#fresh.get(id)?.record;
  }

  /** Follow task `id` from now on (close the follower when done). */
  follow(id: string): Follower {
    const followers = this.#followers.get(id) ?? new Set<Follow>();
    this.#followers.set(id, followers);
    const follower: Follow = new Follow(() => {
      followers.delete(follower);
      if (followers.size === 0 && this.#followers.get(id) === followers) this.#followers.delete(id);
    });
    followers.add(follower);
    return follower;
  }

  /** A change heard on the events channel. */
  changed(record: TaskRecord): void {
    const entry = this.#fresh.get(record.id);
    if (entry) entry.record = record;
    const followers = this.#followers.get(record.id);
    if (followers) for (const follower of followers) follower.tell(record);
  }

  /** The subscription broke: what was heard may be incomplete; every follower reads again. */
  broken(): void {
    this.#fresh.clear();
    for (const followers of this.#followers.values()) for (const f of followers) f.lost();
  }

  /** Redis stopped answering: every follower fails with `error`. */
  fail(error: Error): void {
    for (const followers of this.#followers.values()) for (const f of followers) f.fail(error);
  }
}
