/**
 * The app over a `FakeRuntime`, and the small helpers route tests call it with: every request
 * goes through `app.request()`, in process, with no thread and no socket.
 */
import { expect } from 'vitest';
import { type AppOptions, createApp } from '../../api/app.ts';
import { Metrics } from '../../api/metrics.ts';
import { type FakeFunction, FakeRuntime } from './fake-runtime.ts';

export { type FakeFunction, FakeRuntime } from './fake-runtime.ts';

/** An answer read whole: JSON bodies parsed, anything else as text. */
export interface Answer {
  status: number;
  headers: Headers;
  // biome-ignore lint/suspicious/noExplicitAny: JSON answers are read field by field.
  body: any;
}

type App = ReturnType<typeof createApp>;

export const fakeApp = (
  functions: Record<string, FakeFunction> = {},
  options: Partial<AppOptions> = {},
) => {
  const runtime = new FakeRuntime(functions);
  const logs: string[] = [];
  const metrics = new Metrics();
  const app = createApp({ runtime, metrics, log: (m) => logs.push(m), ...options });
  return { runtime, metrics, app, logs, ...callers(app) };
};

/** `call` and `post` bound to one app. */
export const callers = (app: App) => {
  const call = async (path: string, init: RequestInit = {}): Promise<Answer> => {
    const res = await app.request(path, init);
    const text = await res.text();
    const json = res.headers.get('content-type')?.includes('json');
    return { status: res.status, headers: res.headers, body: json ? JSON.parse(text) : text };
  };
  const post = (path: string, body?: unknown, headers: Record<string, string> = {}) =>
    call(path, {
      method: 'POST',
      body: body === undefined ? '' : typeof body === 'string' ? body : JSON.stringify(body),
      headers: { 'Content-Type': 'application/json', ...headers },
    });
  return { call, post };
};

/** The error shape with this status and code (and, when given, a message containing `text`). */
export const expectError = (answer: Answer, status: number, code: string, text?: string) => {
  expect(answer.status).toBe(status);
  expect(answer.body.error.code).toBe(code);
  expect(typeof answer.body.error.message).toBe('string');
  if (text !== undefined) expect(answer.body.error.message).toContain(text);
};

/** A function whose runs end when the test says: `run` is the function, `open()` ends one. */
export class Latch {
  #opens: Array<() => void> = [];

  /** Runs begun and not yet let go. */
  get waiting(): number {
    return this.#opens.length;
  }

  run = (...args: unknown[]): Promise<unknown> =>
    new Promise((resolve) => this.#opens.push(() => resolve(args)));

  /** Let the oldest waiting run complete, its arguments as its result. */
  open(): void {
    const next = this.#opens.shift();
    if (!next) throw new Error('no run is waiting');
    next();
  }
}
