/**
 * The main module of a function's isolate (Worker Loader), as JavaScript text: it imports the
 * compiled function as `function.js` and answers three calls from the Durable Object or the
 * Worker: its `config`, one task run, and an HTTP request for a module that exports `fetch`.
 * Results cross as JSON, so a value JSON cannot carry fails here with its reason.
 * @module
 */

/** Paths the isolate answers; anything else goes to the module's own `fetch`. */
export const ISOLATE_PATHS = { config: '/__ebbflow/config', run: '/__ebbflow/run' } as const;

/** What a run answers. */
export type IsolateAnswer =
  | { ok: true; result: unknown; executionTime: number; logs?: IsolateLog[] }
  | {
      ok: false;
      code: 'function_threw' | 'result_not_serializable' | 'load_failed';
      error: string;
      executionTime?: number;
      logs?: IsolateLog[];
    };

export interface IsolateLog {
  at: number;
  level: 'log' | 'info' | 'warn' | 'error' | 'debug';
  message: string;
}

/** What `config` answers: the module's `config` export, and which exports it has. */
export type IsolateProbe =
  | { ok: true; config: unknown; callable: boolean; handler: boolean }
  | { ok: false; error: string };

// Logs go to the run they belong to: the one being called while its synchronous part runs, or
// the only run in flight. Lines printed while several runs are in flight after an await cannot
// be told apart (no AsyncLocalStorage across the loader boundary), so they are dropped rather
// than shown on another task: the contract forbids the latter.
export const ISOLATE_MAIN = `import * as mod from './function.js';
const LEVELS = ['log', 'info', 'warn', 'error', 'debug'];
const MAX_LINES = 100;
const MAX_BYTES = 65536;
const active = new Set();
let calling;
for (const level of LEVELS) {
  const original = console[level].bind(console);
  console[level] = (...parts) => {
    const run = calling ?? (active.size === 1 ? active.values().next().value : undefined);
    if (run) {
      const text = parts.map((p) => (typeof p === 'string' ? p : safe(p))).join(' ');
      const bytes = new TextEncoder().encode(text).length;
      if (run.logs.length < MAX_LINES && run.bytes + bytes <= MAX_BYTES) {
        run.logs.push({ at: Date.now(), level, message: text });
        run.bytes += bytes;
      } else run.dropped++;
    }
    original(...parts);
  };
}
function safe(value) { try { return JSON.stringify(value) ?? String(value); } catch { return String(value); } }
function message(error) { return error instanceof Error ? error.message : String(error); }
function json(body) { return new Response(JSON.stringify(body), { headers: { 'content-type': 'application/json' } }); }
function logsOf(run) {
  if (run.dropped > 0) run.logs.push({ at: Date.now(), level: 'warn', message: run.dropped + ' log entries dropped (at most 100 entries and 64 KiB per task)' });
  return run.logs;
}
async function call(args) {
  const run = { logs: [], bytes: 0, dropped: 0 };
  active.add(run);
  const started = performance.now();
  try {
    if (typeof mod.default !== 'function') throw new Error('the module has no default export function');
    let pending;
    calling = run;
    try { pending = mod.default(...args); } finally { calling = undefined; }
    const result = await pending;
    const executionTime = performance.now() - started;
    active.delete(run);
    try { return JSON.stringify({ ok: true, result, executionTime, logs: logsOf(run) }); }
    catch (error) { return JSON.stringify({ ok: false, code: 'result_not_serializable', error: 'the result could not be serialised: ' + message(error), executionTime, logs: logsOf(run) }); }
  } catch (error) {
    active.delete(run);
    return JSON.stringify({ ok: false, code: 'function_threw', error: message(error), executionTime: performance.now() - started, logs: logsOf(run) });
  }
}
export default {
  async fetch(request) {
    const url = new URL(request.url);
    if (url.pathname === '${ISOLATE_PATHS.config}') {
      const callable = typeof mod.default === 'function';
      const handler = typeof mod.fetch === 'function';
      if (!callable && !handler) return json({ ok: false, error: 'the module has no default export function (nor a fetch export)' });
      let config = mod.config ?? null;
      try { config = JSON.parse(JSON.stringify(config)); } catch (error) { return json({ ok: false, error: 'the module\\'s config is not JSON: ' + message(error) }); }
      return json({ ok: true, config, callable, handler });
    }
    if (url.pathname === '${ISOLATE_PATHS.run}') {
      const { args } = await request.json();
      return new Response(await call(args), { headers: { 'content-type': 'application/json' } });
    }
    if (typeof mod.fetch !== 'function') return new Response('no fetch export', { status: 404 });
    return mod.fetch(request);
  },
};
`;
