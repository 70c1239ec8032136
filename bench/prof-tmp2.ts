import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { libsqlDriver } from '../runtime/host/sqlite-libsql.ts';
import { openSqliteStore } from '../runtime/backend/sqlite/store.ts';
const path = join(mkdtempSync(join(tmpdir(), 'prof-')), 't.db');
// time COMMIT execs
const driver = { ...libsqlDriver, open(p: string) { const c = libsqlDriver.open(p); if (process.argv[2]) c.exec(`PRAGMA wal_autocheckpoint = ${process.argv[2]}`); return { ...c, file: c.file, exec(sql: string) { const t = performance.now(); c.exec(sql); const d = performance.now() - t; if (sql === 'COMMIT') commits.push(d); }, prepare: c.prepare, close: c.close }; } };
const commits: number[] = [];
const store = openSqliteStore({ path, driver, ttlMs: 3600000, maxResults: 100000 });
const task = (i: number) => ({ function: 'f', args: [i], timeoutMs: 1000, retry: { attempts: 1, backoffMs: 0 }, maxQueue: 1e6 });
const times: number[] = [];
for (let i = 0; i < 3000; i++) {
  const t = performance.now();
  const r = await store.submit(task(i));
  const [c] = await store.claim('f', 1, 1);
  await store.finish(c!.id, { status: 'completed', result: i, startedAt: 1, endedAt: 2, executionTime: 1, workerId: 1 });
  times.push(performance.now() - t);
}
const q = (a: number[], p: number) => [...a].sort((x, y) => x - y)[Math.floor(a.length * p)]!.toFixed(3);
console.log('cycle p50', q(times, 0.5), 'p99', q(times, 0.99), 'max', q(times, 0.999));
console.log('commit p50', q(commits, 0.5), 'p99', q(commits, 0.99), 'max', Math.max(...commits).toFixed(1), 'n', commits.length, 'sum', commits.reduce((a, b) => a + b, 0).toFixed(0));
console.log(store.space());
await store.close();
