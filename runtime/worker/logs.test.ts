import { describe, expect, it } from 'vitest';
import { format, MAX_LOG_BYTES, MAX_LOG_ENTRIES, TaskLog } from './logs.ts';

describe('TaskLog', () => {
  it('Should keep nothing when nothing was printed', () => {
    expect(new TaskLog().close(0)).toBeUndefined();
  });

  it('Should stop at the entry bound and say how many were dropped', () => {
    const log = new TaskLog();
    for (let i = 0; i < MAX_LOG_ENTRIES + 5; i++) log.add('log', String(i), i);
    const kept = log.close(999) ?? [];
    expect(kept).toHaveLength(MAX_LOG_ENTRIES + 1);
    expect(kept.at(-1)).toMatchObject({ at: 999, level: 'warn' });
    expect(kept.at(-1)?.message).toMatch(/^5 more log entries were dropped/);
  });

  it('Should count UTF-8 bytes against the byte bound', () => {
    const log = new TaskLog();
    const line = 'é'.repeat(10_000); // 20,000 bytes
    for (let i = 0; i < 5; i++) log.add('info', line, i);
    const kept = log.close(5) ?? [];
    expect(kept.filter((l) => l.level === 'info')).toHaveLength(Math.floor(MAX_LOG_BYTES / 20_000));
    expect(kept.at(-1)?.message).toMatch(/^2 more/);
  });
});

describe('format', () => {
  it('Should print like the console: strings as they are, errors with stack, the rest as JSON', () => {
    const error = new Error('boom');
    expect(format(['a', 1, { b: [2] }, null, undefined, 3n])).toBe(
      'a 1 {"b":[2]} null undefined 3n',
    );
    expect(format([error])).toBe(error.stack);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(format([cyclic])).toBe('[object Object]');
  });
});
