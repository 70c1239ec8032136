/**
 * `ebbflow invoke`, `submit`, `result`, `cancel`, `tasks`, `retry` and `logs`: tasks on a
 * running server.
 * @module
 */
import { defineCommand } from 'citty';
import { sseMessages } from '../client/sse.ts';
import {
  CliFailure,
  CONNECTION_ARGS,
  type Connection,
  call,
  connection,
  EXIT,
  failure,
  type Json,
} from './http.ts';
import { describeTask, logLine, print, table } from './output.ts';

/** Each argument is read as JSON (`20`, `'{"a":1}'`); one that is not JSON is a string. */
export const parseArgs = (raw: readonly string[]): unknown[] =>
  raw.map((text) => {
    try {
      return JSON.parse(text);
    } catch {
      return text;
    }
  });

/** Flags of `invoke` and `submit` that take a value; anything else that is no flag is an argument. */
const VALUE_FLAGS = new Set(['--timeout-ms', '--url', '--token', '--id']);
const SWITCHES = new Set(['--json']);

/**
 * The function's name and its arguments from the command line as typed: a negative number
 * (`-1`, `-2.5`) is an argument, not a flag, and everything after `--` is an argument too.
 */
export const positionals = (raw: readonly string[]): string[] => {
  const out: string[] = [];
  for (let i = 0; i < raw.length; i++) {
    const arg = raw[i] as string;
    if (arg === '--') {
      out.push(...raw.slice(i + 1));
      break;
    }
    if (VALUE_FLAGS.has(arg)) i++;
    else if (!(SWITCHES.has(arg) || VALUE_FLAGS.has(arg.split('=')[0] as string))) out.push(arg);
  }
  return out;
};

const TASK_ARGS = {
  name: { type: 'positional', required: true, description: 'the function' },
  args: {
    type: 'positional',
    required: false,
    description: 'its arguments, each as JSON (a word that is not JSON is a string)',
  },
  'timeout-ms': { type: 'string', description: 'the task’s run timeout' },
  ...CONNECTION_ARGS,
} as const;

const taskBody = (
  positionals: readonly string[],
  timeout: string | undefined,
  id?: string,
): string => {
  const body: Record<string, unknown> = { args: parseArgs(positionals.slice(1)) };
  if (timeout !== undefined) {
    const ms = Number(timeout);
    if (!Number.isSafeInteger(ms) || ms < 1) {
      throw new CliFailure(`--timeout-ms must be a positive integer, got ${timeout}`, EXIT.usage);
    }
    body.timeoutMs = ms;
  }
  if (id !== undefined) body.id = id;
  return JSON.stringify(body);
};

/** The exit code a task's end maps to: 0 completed, 1 otherwise. */
const ended = (record: Json): void => {
  if (record.status !== 'completed') process.exitCode = EXIT.failed;
};

export const invoke = defineCommand({
  meta: { name: 'invoke', description: 'run a function and print its result' },
  args: TASK_ARGS,
  async run({ args, rawArgs }) {
    const { body } = await call(
      connection(args, process.env),
      `/functions/${encodeURIComponent(args.name)}/invoke`,
      {
        method: 'POST',
        body: taskBody(positionals(rawArgs), args['timeout-ms']),
        contentType: 'application/json',
        what: `invoke ${args.name}`,
      },
    );
    print(args.json, body, () => describeTask(body));
    ended(body);
  },
});

export const submit = defineCommand({
  meta: { name: 'submit', description: 'queue a task and print its id' },
  args: { ...TASK_ARGS, id: { type: 'string', description: 'a task id of your own' } },
  async run({ args, rawArgs }) {
    const { body } = await call(
      connection(args, process.env),
      `/functions/${encodeURIComponent(args.name)}/tasks`,
      {
        method: 'POST',
        body: taskBody(positionals(rawArgs), args['timeout-ms'], args.id),
        contentType: 'application/json',
        what: `submit ${args.name}`,
      },
    );
    print(args.json, body, () => body.id);
  },
});

export const result = defineCommand({
  meta: { name: 'result', description: 'a task’s status and result' },
  args: {
    id: { type: 'positional', required: true, description: 'the task id' },
    wait: { type: 'string', description: 'wait up to this many ms for it to end (max 30000)' },
    ...CONNECTION_ARGS,
  },
  async run({ args }) {
    const query = args.wait === undefined ? '' : `?wait=${encodeURIComponent(args.wait)}`;
    const { body } = await call(
      connection(args, process.env),
      `/tasks/${encodeURIComponent(args.id)}${query}`,
      { what: `result ${args.id}` },
    );
    print(args.json, body, () => describeTask(body));
    if (body.status === 'failed' || body.status === 'cancelled') process.exitCode = EXIT.failed;
  },
});

export const cancel = defineCommand({
  meta: { name: 'cancel', description: 'cancel a queued or running task' },
  args: {
    id: { type: 'positional', required: true, description: 'the task id' },
    ...CONNECTION_ARGS,
  },
  async run({ args }) {
    const { body } = await call(
      connection(args, process.env),
      `/tasks/${encodeURIComponent(args.id)}`,
      { method: 'DELETE', what: `cancel ${args.id}` },
    );
    print(args.json, body, () => `cancelled ${body.id}`);
  },
});

const STATUSES = ['queued', 'running', 'completed', 'failed', 'cancelled'];

export const tasks = defineCommand({
  meta: { name: 'tasks', description: 'list tasks, newest first (failed ones are dead letters)' },
  args: {
    function: { type: 'string', description: 'only this function’s tasks' },
    status: { type: 'string', description: `only tasks in this state: ${STATUSES.join(', ')}` },
    limit: { type: 'string', description: 'how many (1-1000, default 20)' },
    before: { type: 'string', description: 'the page after this task id (the last one shown)' },
    ...CONNECTION_ARGS,
  },
  async run({ args }) {
    if (args.status !== undefined && !STATUSES.includes(args.status)) {
      throw new CliFailure(
        `--status must be one of ${STATUSES.join(', ')}, got ${args.status}`,
        EXIT.usage,
      );
    }
    const query = new URLSearchParams({ limit: args.limit ?? '20' });
    if (args.function) query.set('function', args.function);
    if (args.status) query.set('status', args.status);
    if (args.before) query.set('before', args.before);
    const { body } = await call(connection(args, process.env), `/tasks?${query}`, {
      what: 'tasks',
    });
    print(args.json, body, () => {
      const rows = (body.tasks as Json[]).map((t) => [
        t.id,
        t.function,
        t.status,
        t.version ?? '',
        new Date(t.submittedAt).toISOString(),
        t.executionTime === undefined ? '' : `${t.executionTime.toFixed(1)} ms`,
        t.errorCode ?? '',
      ]);
      const listed = table(
        ['ID', 'FUNCTION', 'STATUS', 'VERSION', 'SUBMITTED', 'RAN', 'ERROR'],
        rows,
        '(no tasks)',
      );
      return body.next ? `${listed}\nmore: ebbflow tasks --before ${body.next}` : listed;
    });
  },
});

export const retry = defineCommand({
  meta: {
    name: 'retry',
    description: 'run a failed or cancelled task again, as a new task; prints its id',
  },
  args: {
    id: { type: 'positional', required: true, description: 'the failed or cancelled task' },
    ...CONNECTION_ARGS,
  },
  async run({ args }) {
    const { body } = await call(
      connection(args, process.env),
      `/tasks/${encodeURIComponent(args.id)}/retry`,
      { method: 'POST', what: `retry ${args.id}` },
    );
    print(args.json, body, () => body.id);
  },
});

export const logs = defineCommand({
  meta: {
    name: 'logs',
    description: 'what a task printed; or, with --follow, what functions print as they run',
  },
  args: {
    id: { type: 'positional', required: false, description: 'the task' },
    wait: { type: 'string', description: 'wait up to this many ms for the task to end first' },
    follow: {
      type: 'boolean',
      description: 'print lines live as functions print them (Ctrl-C to stop)',
    },
    function: { type: 'string', description: 'with --follow: only this function’s lines' },
    ...CONNECTION_ARGS,
  },
  async run({ args }) {
    const conn = connection(args, process.env);
    if (args.follow) {
      const query = new URLSearchParams({ types: 'log' });
      if (args.function) query.set('function', args.function);
      await followLogs(conn, `/events?${query}`, args.id, args.json);
      return;
    }
    if (!args.id) {
      throw new CliFailure('logs needs a task id, or --follow for live lines', EXIT.usage);
    }
    const query = args.wait === undefined ? '' : `?wait=${encodeURIComponent(args.wait)}`;
    const { body } = await call(conn, `/tasks/${encodeURIComponent(args.id)}${query}`, {
      what: `logs ${args.id}`,
    });
    const lines = (body.logs ?? []) as Json[];
    print(args.json, lines, () =>
      lines.length === 0 ? `(task ${body.id} printed nothing)` : lines.map(logLine).join('\n'),
    );
  },
});

/** Read the live events at `path` and print each log line (of task `id`, when given). */
const followLogs = async (
  conn: Connection,
  path: string,
  id: string | undefined,
  json: boolean | undefined,
): Promise<void> => {
  const headers: Record<string, string> = { Accept: 'text/event-stream' };
  if (conn.token) headers.Authorization = `Bearer ${conn.token}`;
  let res: Response;
  try {
    res = await fetch(`${conn.url}${path}`, { headers });
  } catch (error) {
    throw new CliFailure(
      `cannot reach the ebbflow server at ${conn.url} (${(error as Error).message})`,
      EXIT.unreachable,
    );
  }
  if (!res.ok || !res.body) {
    // The same explanations as every other call (401, 404, ...).
    throw failure(res.status, await res.text(), 'logs --follow', conn);
  }
  for await (const message of sseMessages(res.body)) {
    if (message.event !== 'log') continue;
    const line = JSON.parse(message.data) as Json;
    if (id !== undefined && line.taskId !== id) continue;
    console.log(json ? JSON.stringify(line) : `${line.function} ${logLine(line)}`);
  }
};
