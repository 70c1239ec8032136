import { describe, expect, it } from 'vitest';
import { jsonBytes } from './json-size.ts';

const encoder = new TextEncoder();
/** What the walk must agree with: the bytes of the text JSON makes. */
const real = (value: unknown): number => encoder.encode(JSON.stringify(value)).length;
const BIG = 1 << 30;

/** A small seeded generator, so a failure can be replayed. */
const random = (seed: number) => () => {
  seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
  return seed / 2 ** 31;
};

const CHARS = [
  'a',
  ' ',
  '"',
  '\\',
  '\n',
  '\t',
  '\u0001',
  '\u007f',
  'é',
  '€',
  '😀',
  '\ud800',
  '\udc00',
  '\u2028',
];

const anyValue = (next: () => number, depth: number): unknown => {
  const pick = Math.floor(next() * (depth > 3 ? 5 : 8));
  const text = () =>
    Array.from(
      { length: Math.floor(next() * 6) },
      () => CHARS[Math.floor(next() * CHARS.length)],
    ).join('');
  switch (pick) {
    case 0:
      return text();
    case 1:
      return [0, -0, 1.5, -1e21, 1e-7, 123456789, Number.NaN, Number.POSITIVE_INFINITY][
        Math.floor(next() * 8)
      ];
    case 2:
      return next() < 0.5;
    case 3:
      return null;
    case 4:
      return undefined;
    case 5:
      return Array.from({ length: Math.floor(next() * 4) }, () => anyValue(next, depth + 1));
    default: {
      const object: Record<string, unknown> = {};
      for (let i = Math.floor(next() * 4); i > 0; i--) object[text()] = anyValue(next, depth + 1);
      return object;
    }
  }
};

describe('jsonBytes', () => {
  it('Should count the UTF-8 bytes of the JSON text exactly', () => {
    const values: unknown[] = [
      null,
      true,
      false,
      0,
      -0,
      -12.5e-9,
      Number.NaN,
      -0,
      9,
      10,
      -10,
      99,
      100,
      999_999,
      2 ** 53,
      -(2 ** 53) - 2,
      1e20,
      999_999_999_999_999_900_000,
      1e21,
      -1e21,
      Number.MAX_VALUE,
      Number.MIN_VALUE,
      '',
      'plain',
      'quote " and \\ backslash',
      'line\nbreak\ttab\bback\fform\rreturn\u0000nul\u001fus\u007fdel',
      'é € 😀 \u2028',
      'lone \ud800 high, lone \udc00 low, pair \ud83d\ude00, high at the end \ud800',
      [],
      {},
      [undefined, () => 1, Symbol('s'), null, 1],
      { a: undefined, b: () => 1, c: Symbol('s'), d: 1, 'k"é': [1, { x: 'y' }] },
      Object.create(null),
      // Long arrays of numbers are written out at once.
      Array.from({ length: 40 }, (_, i) => [i * 1.37, -0, Number.NaN, -1e300, 2 ** 60][i % 5]),
      {
        nested: [
          Array.from({ length: 20 }, (_, i) => i),
          [1, 2, 'three', ...new Array(20).fill(4)],
        ],
      },
    ];
    for (const value of values)
      expect(jsonBytes(value, BIG), JSON.stringify(value)).toBe(real(value));
  });

  it('Should agree with JSON.stringify on random values', () => {
    const next = random(7);
    for (let i = 0; i < 2000; i++) {
      const value = anyValue(next, 0);
      if (value === undefined) continue;
      expect(jsonBytes(value, BIG)).toBe(real(value));
    }
  });

  it('Should be exact up to the bound and above it past', () => {
    const value = { text: 'x'.repeat(100) };
    const size = real(value);
    expect(jsonBytes(value, size)).toBe(size);
    expect(jsonBytes(value, size - 1)).toBeGreaterThan(size - 1);
  });

  it('Should stop at the bound however much the value holds', () => {
    // Each would take minutes (or forever) to write out: the walk stops past the bound.
    const cycle: unknown[] = [];
    cycle.push(cycle, cycle);
    expect(jsonBytes(cycle, 1000)).toBeGreaterThan(1000);
    const shared = ['x'.repeat(1000)];
    let wide: unknown[] = shared;
    for (let i = 0; i < 40; i++) wide = [wide, wide];
    expect(jsonBytes(wide, 1_000_000)).toBeGreaterThan(1_000_000);
    expect(jsonBytes(new Array(2 ** 31), 1000)).toBeGreaterThan(1000);
    expect(jsonBytes(new Array(10_000_000).fill(1.5), 1000)).toBeGreaterThan(1000);
    expect(jsonBytes('é'.repeat(10_000_000), 100)).toBeGreaterThan(100);
    let deep: unknown = 1;
    for (let i = 0; i < 100_000; i++) deep = [deep];
    // Deeper than a recursive walk could go; still exact.
    expect(jsonBytes(deep, BIG)).toBe(200_001);
  });
});
