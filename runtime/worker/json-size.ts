/**
 * How many UTF-8 bytes a value takes as JSON, found without making the text and given up once
 * past a bound: a result can be weighed against `maxResultBytes` (in the worker, and again by
 * the pool) and a listing against its page size, at a cost that stops at the bound whatever the
 * value is (deep, cyclic or shared parts included: each step adds at least one byte).
 * @module
 */

/** A string JSON writes as it is: printable ASCII but `"` and `\\`, one byte each. */
const PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

/**
 * The UTF-8 byte length of `JSON.stringify(value)` when it is at most `cap`; past `cap` some
 * number above it (the walk stops there). `cap` must be finite. Exact for JSON values; other
 * values (a `Date`, a `Map`) count by their own enumerable keys.
 */
export const jsonBytes = (value: unknown, cap: number): number => {
  let total = 0;
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const next = stack.pop();
    if (typeof next !== 'object' || next === null) {
      total += scalarBytes(next, cap - total);
    } else if (Array.isArray(next) && numbersOnly(next, cap - total)) {
      // The engine writes numbers far faster than their lengths can be found one by one.
      total += JSON.stringify(next).length;
    } else if (Array.isArray(next)) {
      total += 2;
      for (let i = 0; i < next.length && total <= cap; i++) {
        if (i > 0) total++;
        const item = next[i];
        if (typeof item === 'object' && item !== null) stack.push(item);
        else total += omitted(item) ? 4 : scalarBytes(item, cap - total);
      }
    } else {
      total += 2;
      let first = true;
      for (const key of Object.keys(next)) {
        const item = (next as Record<string, unknown>)[key];
        if (omitted(item)) continue;
        total += (first ? 0 : 1) + stringBytes(key, cap - total) + 1;
        first = false;
        if (typeof item === 'object' && item !== null) stack.push(item);
        else total += scalarBytes(item, cap - total);
        if (total > cap) return total;
      }
    }
    if (total > cap) return total;
  }
  return total;
};

/** Most text an array of numbers may be written into at once (25 characters a number at most). */
const NUMBERS_AT_ONCE = 16 * 1024 * 1024;

/**
 * Whether `array` holds numbers only (no holes) and is short enough to write out: at least two
 * bytes a number (with its comma), so one past `room` is over without being written.
 */
const numbersOnly = (array: unknown[], room: number): boolean => {
  const length = array.length;
  if (length < 16 || length * 25 > NUMBERS_AT_ONCE || length * 2 > room + 2) return false;
  for (let i = 0; i < length; i++) if (typeof array[i] !== 'number') return false;
  return true;
};

/** Left out of an object by JSON (and written `null` in an array). */
const omitted = (value: unknown): boolean =>
  value === undefined || typeof value === 'function' || typeof value === 'symbol';

const scalarBytes = (value: unknown, room: number): number => {
  switch (typeof value) {
    case 'string':
      return stringBytes(value, room);
    case 'number':
      return numberBytes(value);
    case 'boolean':
      return value ? 4 : 5;
    case 'bigint':
      return String(value).length;
    case 'object':
      return 4;
    default:
      return 0;
  }
};

/** How JSON writes a number; integers are counted without making their text. */
const numberBytes = (value: number): number => {
  if (!Number.isFinite(value)) return 4;
  // -0 is written `0`; integers from 1e21 on are written with an exponent.
  const size = Math.abs(value);
  if (!Number.isInteger(value) || size >= 1e21) return String(value).length;
  let digits = 1;
  for (let power = 10; size >= power; power *= 10) digits++;
  return value < 0 ? digits + 1 : digits;
};

/** A string with its quotes and escapes; at least `room + 1` once it cannot fit in `room`. */
const stringBytes = (text: string, room: number): number => {
  if (text.length + 2 > room) return text.length + 2;
  if (PLAIN.test(text)) return text.length + 2;
  let bytes = 2;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) {
      if (code === 0x22 || code === 0x5c) bytes += 2;
      else if (code >= 0x20) bytes += 1;
      else bytes += code === 8 || code === 9 || code === 10 || code === 12 || code === 13 ? 2 : 6;
    } else if (code < 0x800) bytes += 2;
    else if (code >= 0xd800 && code <= 0xdbff) {
      const low = text.charCodeAt(i + 1);
      if (low >= 0xdc00 && low <= 0xdfff) {
        bytes += 4;
        i++;
      } else bytes += 6;
    } else if (code >= 0xdc00 && code <= 0xdfff) bytes += 6;
    else bytes += 3;
  }
  return bytes;
};
