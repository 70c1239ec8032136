/**
 * Finds the first part of a value that is not JSON, so a task whose result cannot be sent as
 * JSON fails with a message naming where the problem is, instead of being silently changed.
 * @module
 */

const MAX_DEPTH = 512;

/** Returns why `value` is not a JSON value, or `undefined` when it is. */
export const jsonProblem = (value: unknown, path = 'value'): string | undefined => {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return undefined;
    case 'number':
      return Number.isFinite(value)
        ? undefined
        : `${path} is ${value}, which JSON cannot represent`;
    case 'object':
      return value === null ? undefined : objectProblem(value, path, new Set(), 0);
    case 'undefined':
      return `${path} is undefined, which JSON cannot represent`;
    default:
      return `${path} is a ${typeof value}, which JSON cannot represent`;
  }
};

const objectProblem = (
  value: object,
  path: string,
  seen: Set<object>,
  depth: number,
): string | undefined => {
  if (seen.has(value)) return `${path} refers back to itself (a cycle)`;
  if (depth > MAX_DEPTH) return `${path} is nested deeper than ${MAX_DEPTH} levels`;
  seen.add(value);
  let problem: string | undefined;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length && problem === undefined; i++) {
      problem = childProblem(value[i], `${path}[${i}]`, seen, depth);
    }
  } else {
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) {
      const kind = (value as { constructor?: { name?: string } }).constructor?.name ?? 'object';
      return `${path} is a ${kind}, not a plain object or array`;
    }
    for (const key of Object.keys(value)) {
      const child = (value as Record<string, unknown>)[key];
      // JSON drops undefined properties; that is what a user expects, so allow it.
      if (child === undefined) continue;
      problem = childProblem(child, `${path}.${key}`, seen, depth);
      if (problem !== undefined) break;
    }
  }
  seen.delete(value);
  return problem;
};

const childProblem = (
  value: unknown,
  path: string,
  seen: Set<object>,
  depth: number,
): string | undefined =>
  typeof value === 'object' && value !== null
    ? objectProblem(value, path, seen, depth + 1)
    : jsonProblem(value, path);
