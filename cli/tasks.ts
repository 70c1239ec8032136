/**
 * `ebbflow invoke`, `submit`, `result` and `cancel`: tasks on a running server.
 * @module
 */
import { defineCommand } from 'citty';
import { CliFailure, CONNECTION_ARGS, call, connection, EXIT, type Json } from './http.ts';
import { describeTask, print } from './output.ts';

/** Each argument is read as JSON (`20`, `'{"a":1}'`); one that is not JSON is a string. */
export const parseArgs = (raw: readonly string[]): unknown[] =>
  raw.map((text) => {
    try {
      return JSON.parse(text);
    } catch {
      return text;
    }
  });

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
  async run({ args }) {
    const { body } = await call(
      connection(args, process.env),
      `/functions/${encodeURIComponent(args.name)}/invoke`,
      {
        method: 'POST',
        body: taskBody(args._, args['timeout-ms']),
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
  async run({ args }) {
    const { body } = await call(
      connection(args, process.env),
      `/functions/${encodeURIComponent(args.name)}/tasks`,
      {
        method: 'POST',
        body: taskBody(args._, args['timeout-ms'], args.id),
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
