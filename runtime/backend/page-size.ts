/**
 * How large one page of a task listing may grow: records are weighed as they go on the page, and
 * the page is cut short (its `next` says where to go on) rather than grow past about
 * `MAX_PAGE_BYTES` of JSON. So a listing answers whatever its records hold; the first record
 * always goes on, so paging always moves.
 * @module
 */
import type { TaskRecord } from '../types.ts';
import { jsonBytes } from '../worker/json-size.ts';

/** About how much JSON (UTF-8 bytes) one page of `list` holds at most. */
export const MAX_PAGE_BYTES = 16 * 1024 * 1024;

export class PageBudget {
  #left: number;
  #empty = true;

  constructor(bytes = MAX_PAGE_BYTES) {
    this.#left = bytes;
  }

  /** Whether `record` goes on the page (it takes its room then); false once it would not fit. */
  take(record: TaskRecord): boolean {
    // Weighed only up to the room left: a record past it is not measured further.
    const bytes = jsonBytes(record, Math.max(0, this.#left)) + 1;
    if (!this.#empty && bytes > this.#left) return false;
    this.#empty = false;
    this.#left -= bytes;
    return true;
  }
}
