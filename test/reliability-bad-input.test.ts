/**
 * A catalogue of bad requests against a real server with a token: each gets its documented
 * status and error body, none creates or changes a task, and the server serves normally after
 * all of them.
 */
import { beforeAll, expect, it } from 'vitest';
import { reliabilityEnv } from './support/functions.ts';
import {
  describeEachRuntime,
  type Json,
  type RuntimeName,
  serverForSuite,
} from './support/server.ts';

const TOKEN = 'reliability-token';
const AUTH = { Authorization: `Bearer ${TOKEN}` };
const MAX_BODY = 65_536;

interface BadRequest {
  kind: string;
  method: string;
  path: string;
  /** Sent as it is (a string is not JSON-encoded). */
  body?: string;
  headers?: Record<string, string>;
  /** Leave the token out (the default sends the right one). */
  noAuth?: boolean;
  status: number;
  /** The error code of the JSON error body; `undefined` when the HTTP layer answers before the app. */
  code: string | undefined;
  /** The field a 400 names in its details. */
  field?: string;
  message?: RegExp;
  /** Statuses per runtime where the HTTP server (not ebbflow) answers differently. */
  statusOn?: Partial<Record<RuntimeName, number>>;
}

const json = (value: unknown) => JSON.stringify(value);
const submit = (body: string, extra: Partial<BadRequest> = {}) => ({
  method: 'POST',
  path: '/functions/echo/tasks',
  body,
  ...extra,
});
const badBody = (kind: string, value: unknown, field: string, message: RegExp): BadRequest => ({
  kind,
  ...submit(json(value)),
  status: 400,
  code: 'invalid_body',
  field,
  message,
});

/** Filled in by the setup: a task that finished, and one that is still queued or running. */
const ids = { finished: '', live: '' };

const CATALOGUE = (): BadRequest[] => [
  // Bodies that are not JSON.
  { kind: 'malformed JSON', ...submit('{"args": [1,,2]}'), status: 400, code: 'invalid_json' },
  { kind: 'truncated JSON', ...submit('{"args": [1, 2'), status: 400, code: 'invalid_json' },
  { kind: 'plain text body', ...submit('run echo please'), status: 400, code: 'invalid_json' },
  {
    kind: 'form-encoded body (wrong content type)',
    ...submit('args=1&id=x', { headers: { 'Content-Type': 'application/x-www-form-urlencoded' } }),
    status: 400,
    code: 'invalid_json',
  },
  {
    kind: 'multipart body (wrong content type)',
    ...submit('--b\r\nContent-Disposition: form-data; name="args"\r\n\r\n[1]\r\n--b--\r\n', {
      headers: { 'Content-Type': 'multipart/form-data; boundary=b' },
    }),
    status: 400,
    code: 'invalid_json',
  },
  // JSON of the wrong shape.
  {
    kind: 'body is an array',
    ...submit('[1, 2]'),
    status: 400,
    code: 'invalid_body',
    field: 'body',
  },
  { kind: 'body is null', ...submit('null'), status: 400, code: 'invalid_body', field: 'body' },
  {
    kind: 'body is a string',
    ...submit('"args"'),
    status: 400,
    code: 'invalid_body',
    field: 'body',
  },
  badBody('args is a string', { args: 'x' }, 'args', /args must be an array/),
  badBody('args is an object', { args: { 0: 1 } }, 'args', /args must be an array/),
  badBody('args is null', { args: null }, 'args', /args must be an array/),
  badBody('unknown field (a typo)', { arg: [1] }, 'arg', /unknown field/),
  badBody('id is a number', { id: 42 }, 'id', /id must be a string/),
  badBody('id is empty', { id: '' }, 'id', /1 to 128 characters/),
  badBody('id has a slash', { id: 'a/b' }, 'id', /1 to 128 characters/),
  badBody('id is only dots', { id: '..' }, 'id', /not only dots/),
  badBody('id is 129 characters', { id: 'x'.repeat(129) }, 'id', /1 to 128 characters/),
  badBody('id has non-ASCII letters', { id: 'tâche' }, 'id', /1 to 128 characters/),
  badBody('timeoutMs is negative', { timeoutMs: -5 }, 'timeoutMs', /at least 1/),
  badBody('timeoutMs is zero', { timeoutMs: 0 }, 'timeoutMs', /at least 1/),
  badBody('timeoutMs is fractional', { timeoutMs: 1.5 }, 'timeoutMs', /integer/),
  badBody('timeoutMs is a string', { timeoutMs: '100' }, 'timeoutMs', /must be a number/),
  badBody('timeoutMs is null', { timeoutMs: null }, 'timeoutMs', /must be a number/),
  badBody('timeoutMs is past the timer maximum', { timeoutMs: 2 ** 31 }, 'timeoutMs', /at most/),
  {
    kind: 'args nested 30,000 deep',
    ...submit(`{"args":[${'['.repeat(30_000)}${']'.repeat(30_000)}]}`),
    status: 400,
    code: 'invalid_argument',
    message: /nested deeper/,
  },
  {
    kind: 'invoke with a bad body',
    ...submit(json({ args: 1 }), { path: '/functions/echo/invoke' }),
    status: 400,
    code: 'invalid_body',
    field: 'args',
  },
  {
    kind: 'body over the size limit',
    ...submit(json({ args: ['x'.repeat(MAX_BODY)] })),
    status: 413,
    code: 'payload_too_large',
  },
  // Names and ids in the path.
  {
    kind: 'unknown function',
    ...submit('{}', { path: '/functions/nope/tasks' }),
    status: 404,
    code: 'unknown_function',
  },
  {
    kind: 'unknown function (GET)',
    method: 'GET',
    path: '/functions/nope',
    status: 404,
    code: 'unknown_function',
  },
  {
    kind: 'function name of 65 characters',
    ...submit('{}', { path: `/functions/${'a'.repeat(65)}/tasks` }),
    status: 400,
    code: 'invalid_name',
  },
  {
    kind: 'encoded traversal in a function name',
    ...submit('{}', { path: '/functions/..%2F..%2Fetc%2Fpasswd/tasks' }),
    status: 400,
    code: 'invalid_name',
  },
  {
    kind: 'encoded traversal to a server module',
    ...submit('{}', { path: '/functions/%2E%2E%2F%2E%2E%2Fapi%2Fapp/invoke' }),
    status: 400,
    code: 'invalid_name',
  },
  {
    kind: 'NUL byte in a function name',
    ...submit('{}', { path: '/functions/echo%00/tasks' }),
    status: 400,
    code: 'invalid_name',
  },
  {
    kind: 'unknown task',
    method: 'GET',
    path: '/tasks/no-such-task',
    status: 404,
    code: 'unknown_task',
  },
  {
    kind: 'cancel an unknown task',
    method: 'DELETE',
    path: '/tasks/no-such-task',
    status: 404,
    code: 'unknown_task',
  },
  {
    kind: 'encoded traversal in a task id',
    method: 'GET',
    path: '/tasks/..%2F..%2Fetc%2Fpasswd',
    status: 400,
    code: 'invalid_id',
  },
  {
    kind: 'task id of 129 characters',
    method: 'GET',
    path: `/tasks/${'t'.repeat(129)}`,
    status: 400,
    code: 'invalid_id',
  },
  // The wait query.
  ...['abc', '-1', '1.5', '', '1e3', '0x10'].map(
    (wait): BadRequest => ({
      kind: `wait=${wait === '' ? '(empty)' : wait}`,
      method: 'GET',
      path: `/tasks/${ids.live}?wait=${encodeURIComponent(wait)}`,
      status: 400,
      code: 'invalid_query',
      field: 'wait',
    }),
  ),
  // Conflicts.
  {
    kind: 'id already used',
    ...submit(json({ id: ids.finished })),
    status: 409,
    code: 'duplicate_id',
  },
  {
    kind: 'cancel a finished task',
    method: 'DELETE',
    path: `/tasks/${ids.finished}`,
    status: 409,
    code: 'already_terminal',
  },
  // Methods and routes.
  {
    kind: 'PUT on a task',
    method: 'PUT',
    path: `/tasks/${ids.live}`,
    status: 405,
    code: 'method_not_allowed',
  },
  {
    kind: 'GET on the submit route',
    method: 'GET',
    path: '/functions/echo/tasks',
    status: 405,
    code: 'method_not_allowed',
  },
  {
    // Deleting is a v2 route, off unless EBBFLOW_ADMIN_TOKEN is set.
    kind: 'DELETE on a function without deploys',
    method: 'DELETE',
    path: '/functions/echo',
    status: 403,
    code: 'deploy_disabled',
  },
  {
    kind: 'PATCH on a function',
    method: 'PATCH',
    path: '/functions/echo',
    status: 405,
    code: 'method_not_allowed',
  },
  {
    kind: 'PATCH on /stats',
    method: 'PATCH',
    path: '/stats',
    status: 405,
    code: 'method_not_allowed',
  },
  { kind: 'unknown route', method: 'GET', path: '/admin/shutdown', status: 404, code: 'not_found' },
  // Authentication.
  { kind: 'no token', ...submit('{}'), noAuth: true, status: 401, code: 'unauthorized' },
  {
    kind: 'wrong token',
    ...submit('{}', { headers: { Authorization: 'Bearer not-the-token' } }),
    noAuth: true,
    status: 401,
    code: 'unauthorized',
  },
  {
    kind: 'token with a Basic scheme',
    method: 'GET',
    path: '/stats',
    headers: { Authorization: `Basic ${btoa(`user:${TOKEN}`)}` },
    noAuth: true,
    status: 401,
    code: 'unauthorized',
  },
  // Sizes the HTTP server refuses before ebbflow sees the request.
  {
    kind: 'a 64 KiB header',
    method: 'GET',
    path: '/stats',
    headers: { 'X-Filler': 'h'.repeat(65_536) },
    status: 431,
    code: undefined,
    // Deno's HTTP server answers an oversize head with a bare 400.
    statusOn: { deno: 400 },
  },
  {
    kind: 'a 64 KiB query string',
    method: 'GET',
    path: `/stats?filler=${'q'.repeat(65_536)}`,
    status: 431,
    code: undefined,
    // Deno's HTTP server answers an oversize head with a bare 400.
    statusOn: { deno: 400 },
  },
];

const tasksSeen = (stats: Json): number =>
  Object.values(stats.functions as Record<string, Json>).reduce(
    (sum, f) =>
      sum + f.tasksCompleted + f.tasksFailed + f.tasksCancelled + f.queueSize + f.activeTasks,
    0,
  );

describeEachRuntime('bad input', (runtime) => {
  const suite = serverForSuite(
    runtime,
    reliabilityEnv(4, { EBBFLOW_TOKEN: TOKEN, EBBFLOW_MAX_BODY_BYTES: String(MAX_BODY) }),
    { headers: AUTH, stopMs: 10_000 },
  );
  let before: number;
  beforeAll(async () => {
    const done = await suite.api.post('/functions/echo/invoke', { args: ['done'] });
    expect(done.status).toBe(200);
    ids.finished = done.body.id;
    // A task that lives through the whole catalogue: nothing bad may touch it.
    const live = await suite.api.post('/functions/nap/tasks', { id: 'bystander', args: [3_000] });
    expect(live.status).toBe(202);
    ids.live = live.body.id;
    before = tasksSeen((await suite.api.get('/stats')).body);
  }, 60_000);

  it('Should have at least 20 kinds of bad request in the catalogue', () => {
    const kinds = CATALOGUE().length;
    expect(kinds).toBeGreaterThanOrEqual(20);
    console.info(`${runtime.name}: ${kinds} kinds of bad request`);
  });

  it('Should answer every bad request with its status and error body', async () => {
    const problems: string[] = [];
    for (const bad of CATALOGUE()) {
      const headers: Record<string, string> = {
        ...(bad.noAuth ? {} : AUTH),
        ...bad.headers,
      };
      let status: number;
      let text: string;
      try {
        const res = await fetch(`${suite.server.url}${bad.path}`, {
          method: bad.method,
          headers,
          body: bad.body,
        });
        status = res.status;
        text = await res.text();
      } catch (error) {
        problems.push(`${bad.kind}: no answer (${(error as Error).message})`);
        continue;
      }
      const expected = bad.statusOn?.[runtime.name] ?? bad.status;
      if (status !== expected) {
        problems.push(`${bad.kind}: status ${status}, expected ${expected}: ${text.slice(0, 200)}`);
        continue;
      }
      if (bad.code === undefined) continue;
      let body: Json;
      try {
        body = JSON.parse(text);
      } catch {
        problems.push(`${bad.kind}: the body is not JSON: ${text.slice(0, 200)}`);
        continue;
      }
      const error = body?.error;
      if (error?.code !== bad.code || typeof error.message !== 'string' || error.message === '') {
        problems.push(`${bad.kind}: expected code ${bad.code}, got ${text.slice(0, 300)}`);
      } else if (bad.message && !bad.message.test(error.message)) {
        problems.push(`${bad.kind}: message ${JSON.stringify(error.message)} !~ ${bad.message}`);
      } else if (
        bad.field !== undefined &&
        !(error.details as Json[] | undefined)?.some((d) => d.field === bad.field)
      ) {
        problems.push(`${bad.kind}: details do not name ${bad.field}: ${text.slice(0, 300)}`);
      }
    }
    expect(problems).toEqual([]);
  }, 60_000);

  it('Should be unharmed afterwards: no task made or changed, good calls served', async () => {
    expect(tasksSeen((await suite.api.get('/stats')).body)).toBe(before);
    const bystander = await suite.api.settle(ids.live);
    expect(bystander).toMatchObject({ id: 'bystander', status: 'completed', result: 3_000 });
    expect((await suite.api.get(`/tasks/${ids.finished}`)).body).toMatchObject({
      status: 'completed',
      result: ['done'],
    });
    expect((await fetch(`${suite.server.url}/health`)).status).toBe(200);
    const good = await suite.api.post('/functions/echo/invoke', { args: ['after', 'all'] });
    expect(good).toMatchObject({ status: 200, body: { result: ['after', 'all'] } });
    const text = await fetch(`${suite.server.url}/metrics`, { headers: AUTH });
    expect(text.status).toBe(200);
    expect(suite.server.child.exitCode).toBe(null);
  }, 60_000);
});
