/**
 * How large one page of a task listing may grow: records are weighed as they go on the page, and
 * the page is cut short (its `next` says where to go on) rather than grow past about
 * `MAX_PAGE_BYTES` of JSON. So a listing answers whatever its records hold; the first record
 * always goes on, so paging always moves.
 * @module
 */
import type { TaskPage, TaskRecord } from '../types.ts';
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

/**
 * A page of `records` (newest first, read one past `limit` to know whether another follows):
 * at most `limit` of them, fewer when the size bound is reached, with `next` when any is left.
 */
export const pageOf = (records: readonly TaskRecord[], limit: number): TaskPage => {
  const budget = new PageBudget();
  const tasks: TaskRecord[] = [];
  for (const record of records) {
    if (tasks.length === limit || !budget.take(record)) break;
    tasks.push(record);
  }
  const page: TaskPage = { tasks };
  const last = tasks.at(-1);
  if (records.length > tasks.length && last) page.next = last.id;
  return page;
};
