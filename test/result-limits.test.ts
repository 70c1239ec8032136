/**
 * What a task may leave in its record, tried as a function would try to get past it, with real
 * workers on the Node host: results larger than `maxResultBytes` as JSON fail with
 * `result_too_large` (whether the worker catches them or only the pool can), long error messages
 * are cut saying so, and a worker that rewrites what it sends still cannot pass the bounds.
 */
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Runtime } from '../runtime/index.ts';
import { startNodeRuntime } from './support/node-runtime.ts';

const LIMITS = fileURLToPath(new URL('./fixtures/limits/', import.meta.url));
const MAX = 1000;
/** A message longer than this is cut to this many characters, a note saying so included. */
const MAX_ERROR_CHARS = 65_536;

let runtime: Runtime;

beforeAll(async () => {
  runtime = await startNodeRuntime(LIMITS, { maxResultBytes: MAX, maxWorkers: 6 });
});

afterAll(async () => {
  await runtime?.close({ drainTimeoutMs: 1000 });
});

describe('results larger than maxResultBytes', () => {
  it('Should complete a result of exactly the limit and fail one byte more', async () => {
    // A string's JSON is its characters plus two quotes.
    const fits = await runtime.call('big', [MAX - 2]);
    expect(fits).toMatchObject({ status: 'completed', result: 'x'.repeat(MAX - 2) });
    const over = await runtime.call('big', [MAX - 1]);
    expect(over).toMatchObject({ status: 'failed', errorCode: 'result_too_large' });
    expect(over.error).toBe(
      `the result is larger than ${MAX} bytes as JSON (maxResultBytes, EBBFLOW_MAX_RESULT_BYTES)`,
    );
    expect(over).not.toHaveProperty('result');
  });

  it('Should count UTF-8 bytes, not characters', async () => {
    // 'é' is two bytes: 499 of them are 998 + 2 quotes = 1000 bytes; 500 are over.
    expect((await runtime.call('big', [499, 'é'])).status).toBe('completed');
    expect(await runtime.call('big', [500, 'é'])).toMatchObject({ errorCode: 'result_too_large' });
  });

  it('Should not retry a result that is too large: it would be as large again', async () => {
    const record = await runtime.call('big', [5000], { retry: { attempts: 3, backoffMs: 1 } });
    expect(record).toMatchObject({ errorCode: 'result_too_large', attempt: 1, attempts: 3 });
  });

  it("Should fail a result that grows only once it is sent, by the pool's own check", async () => {
    // Small while the worker checks it (two reads), 5 MB in the copy that is posted.
    const record = await runtime.call('sneaky', [5_000_000, 2]);
    expect(record).toMatchObject({ status: 'failed', errorCode: 'result_too_large' });
    expect(record).not.toHaveProperty('result');
    // Caught by the worker when it is large at its second look.
    expect(await runtime.call('sneaky', [5_000_000, 1])).toMatchObject({
      errorCode: 'result_too_large',
    });
    expect(await runtime.call('big', [3])).toMatchObject({ status: 'completed', result: 'xxx' });
  });
});

describe('long error messages', () => {
  it('Should cut a thrown message past 65536 characters, saying so', async () => {
    const record = await runtime.call('loud', [1_000_000]);
    expect(record).toMatchObject({ status: 'failed', errorCode: 'function_threw' });
    const error = record.error as string;
    expect(error).toHaveLength(MAX_ERROR_CHARS);
    const [, kept, note] = /^(E+)( \[cut: .*\])$/.exec(error) ?? [];
    expect(note).toBe(
      ` [cut: the message had 1000000 characters; the first ${kept?.length} are kept]`,
    );
    expect(kept?.length).toBeGreaterThan(65_000);
  });

  it('Should keep a message of exactly 65536 characters whole, and cut a thrown string too', async () => {
    expect((await runtime.call('loud', [MAX_ERROR_CHARS])).error).toBe('E'.repeat(MAX_ERROR_CHARS));
    const bare = (await runtime.call('loud', [200_000, true])).error as string;
    expect(bare).toMatch(/^the function failed with a non-Error value: E+ \[cut: the message had/);
    expect(bare).toHaveLength(MAX_ERROR_CHARS);
  });
});

describe('a function that rewrites what its worker sends', () => {
  // The worker takes what it reports with before any function code runs (primordials.ts), so
  // rewriting MessagePort.prototype.postMessage changes nothing; the server's own bounds on a
  // worker that lies anyway are runtime/pool/endings.test.ts's.
  it('Should still report its own outcomes: the tampering task and the one after it', async () => {
    expect(await runtime.call('tamper', [1_000_000])).toMatchObject({
      status: 'completed',
      result: 'tampered',
    });
    const next = await runtime.call('tamper', [10]);
    expect(next).toMatchObject({ status: 'completed', result: 'tampered' });
    expect(next.logs ?? []).toEqual([]);
  });
});
