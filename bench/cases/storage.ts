/**
 * Case 11, disk: `count` tasks of the trivial function through a runtime that keeps its tasks in
 * the embedded SQLite store with the server's defaults (records kept an hour, at most 100,000),
 * submitted 1,000 at a time and each waited for. The file's size (with its write-ahead log)
 * after they all ended, and per finished record kept; then the same after closing (the log
 * checkpointed into the file).
 * Usage: storage.ts <count>
 */
import { statSync } from 'node:fs';
import { DEFAULTS } from '../../runtime/index.ts';
import { emit, numberArg } from '../lib/emit.ts';
import { fixtureRuntime } from '../lib/fixture-runtime.ts';
import { benchStore } from '../lib/store.ts';

const count = numberArg(0, 100_000);
const store = benchStore('sqlite');
const backend = store.backend;
if (!backend) throw new Error('no SQLite store');
const runtime = await fixtureRuntime(['inc'], { backend });
const started = performance.now();
const BATCH = 1_000;
for (let from = 0; from < count; from += BATCH) {
  const ids = await Promise.all(
    Array.from({ length: Math.min(BATCH, count - from) }, async (_, i) => {
      const record = await runtime.submit('inc', [from + i]);
      return record.id;
    }),
  );
  const ended = await Promise.all(ids.map((id) => runtime.wait(id, 60_000)));
  const bad = ended.find((r) => r?.status !== 'completed');
  if (bad) throw new Error(`a task did not complete: ${JSON.stringify(bad)}`);
}
const seconds = (performance.now() - started) / 1000;
const live = store.figures();
// Within the default time to live, every record is kept up to the cap.
const kept = Math.min(count, DEFAULTS.maxResults);
const { pageSize, pages, freePages } = backend.space();
await runtime.close();
const file = backend.file;
await backend.close();
const closedBytes = statSync(file).size;
emit({
  tasks: count,
  tasksPerSec: count / seconds,
  fileBytes: live?.fileBytes,
  bytesPerTask: (live?.fileBytes ?? 0) / Math.max(1, kept),
  pagesInUse: pages - freePages,
  pageSize,
  closedFileBytes: closedBytes,
  closedBytesPerTask: closedBytes / Math.max(1, kept),
  tasksPerCommit: live ? live.tasksCommitted / Math.max(1, live.commits) : undefined,
});
await store.close();
