/**
 * Just enough of vitest's API for a suite written for vitest to run on Deno and Bun, which have
 * no vitest: `describe`, `it`, hooks, and the real `expect` (vitest's own matchers,
 * `@vitest/expect` over chai). `run()` runs what was declared, in order, one test at a time,
 * and prints `ok <test>` or `not ok <test>: <why>` per test. The host maps the `vitest`
 * specifier here (Deno: an import map; Bun: a preload plugin).
 */
import { JestAsymmetricMatchers, JestChaiExpect, JestExtend } from '@vitest/expect';
import * as chai from 'chai';

chai.use(JestExtend);
chai.use(JestChaiExpect);
chai.use(JestAsymmetricMatchers);

// biome-ignore lint/suspicious/noExplicitAny: the matchers are added to chai at run time.
export const expect = chai.expect as any;

type Body = () => unknown;
type Item =
  | { kind: 'test'; name: string; fn?: Body; timeout: number }
  | { kind: 'suite'; suite: Suite };

interface Suite {
  name: string;
  items: Item[];
  afterEach: Body[];
  afterAll: Body[];
  beforeAll: Body[];
}

const newSuite = (name: string): Suite => ({
  name,
  items: [],
  afterEach: [],
  afterAll: [],
  beforeAll: [],
});
const root = newSuite('');
let current = root;

export const describe = (name: string, body: () => void): void => {
  const suite = newSuite(name);
  current.items.push({ kind: 'suite', suite });
  const parent = current;
  current = suite;
  try {
    body();
  } finally {
    current = parent;
  }
};

export const it = Object.assign(
  (name: string, fn: Body, timeout = 30_000): void => {
    current.items.push({ kind: 'test', name, fn, timeout });
  },
  {
    skip: (name: string, _fn?: Body): void => {
      current.items.push({ kind: 'test', name, timeout: 0 });
    },
  },
);

export const afterEach = (fn: Body): void => {
  current.afterEach.push(fn);
};
export const afterAll = (fn: Body): void => {
  current.afterAll.push(fn);
};
export const beforeAll = (fn: Body): void => {
  current.beforeAll.push(fn);
};

const within = async (fn: Body, ms: number, what: string): Promise<void> => {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  try {
    await Promise.race([Promise.resolve().then(fn), late]);
  } finally {
    clearTimeout(timer);
  }
};

/** Run every test declared so far; resolves with how many passed, failed and were skipped. */
export const run = async (): Promise<{ passed: number; failed: number; skipped: number }> => {
  const counts = { passed: 0, failed: 0, skipped: 0 };
  const walk = async (suite: Suite, path: string[], hooks: Body[][]): Promise<void> => {
    for (const fn of suite.beforeAll) await fn();
    const afterEachHooks = [suite.afterEach, ...hooks];
    for (const item of suite.items) {
      if (item.kind === 'suite') {
        await walk(item.suite, [...path, item.suite.name], afterEachHooks);
        continue;
      }
      const name = [...path, item.name].join(' > ');
      if (!item.fn) {
        counts.skipped++;
        console.log(`skip ${name}`);
        continue;
      }
      let failure: unknown;
      try {
        await within(item.fn, item.timeout, name);
      } catch (error) {
        failure = error;
      }
      for (const fns of afterEachHooks) {
        for (const fn of fns) {
          try {
            await fn();
          } catch (error) {
            failure ??= error;
          }
        }
      }
      if (failure === undefined) {
        counts.passed++;
        console.log(`ok ${name}`);
      } else {
        counts.failed++;
        console.log(`not ok ${name}: ${(failure as Error)?.stack ?? String(failure)}`);
      }
    }
    for (const fn of suite.afterAll) await fn();
  };
  await walk(root, [], []);
  return counts;
};
