/**
 * The Worker's own check of what a function's isolate answered (`bounded`), as the pool checks a
 * worker's: a result larger than EBBFLOW_MAX_RESULT_BYTES fails, an error message is cut, the
 * printed lines are bounded. The isolate checks first (edge/isolate/main.ts); these hold even
 * when the function's code has changed the checks inside its isolate.
 */
import { describe, expect, it } from 'vitest';
import { MAX_ERROR_CHARS } from '../runtime/worker/bounds.ts';
import { MAX_LOG_ENTRIES } from '../runtime/worker/logs.ts';
import { bounded, type RunOutcome } from './run-outcome.ts';

const done = (result: unknown): RunOutcome => ({
  ok: true,
  result,
  executionTime: 1,
  workerId: 7,
});

describe('bounded', () => {
  it('Should fail a result whose JSON is larger than the bound, and pass one that fits', () => {
    // A string's JSON is its characters and two quotes.
    expect(bounded(done('x'.repeat(98)), 100)).toEqual(done('x'.repeat(98)));
    expect(bounded(done('x'.repeat(99)), 100)).toEqual({
      ok: false,
      code: 'result_too_large',
      error: expect.stringContaining('larger than 100 bytes'),
      workerId: 7,
      executionTime: 1,
    });
    // No bound: an ephemeral run keeps no record.
    expect(bounded(done('x'.repeat(99)), undefined)).toMatchObject({ ok: true });
  });

  it('Should cut a long error message, saying so, and leave a short one', () => {
    const long: RunOutcome = {
      ok: false,
      code: 'function_threw',
      error: 'E'.repeat(200_000),
      workerId: 1,
    };
    const cut = bounded(long, 100) as Extract<RunOutcome, { ok: false }>;
    expect(cut.error).toHaveLength(MAX_ERROR_CHARS);
    expect(cut.error).toMatch(
      /^E+ \[cut: the message had 200000 characters; the first \d+ are kept\]$/,
    );
    const short: RunOutcome = {
      ok: false,
      code: 'timed_out',
      error: 'timed out after 5 ms',
      workerId: 1,
    };
    expect(bounded(short, 100)).toEqual(short);
  });

  it('Should keep at most the bound of printed lines, saying how many were left out', () => {
    const logs = Array.from({ length: MAX_LOG_ENTRIES + 50 }, (_, i) => ({
      at: i,
      level: 'log' as const,
      message: `line ${i}`,
    }));
    const kept = bounded({ ...done(1), logs }, 100);
    expect(kept.logs?.length).toBeLessThanOrEqual(MAX_LOG_ENTRIES + 2);
    expect(kept.logs?.at(-1)).toMatchObject({
      level: 'warn',
      message: expect.stringContaining('left out'),
    });
  });
});
