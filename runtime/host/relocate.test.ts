/**
 * A module copied out of its folder still imports its own neighbours and reads its own
 * `import.meta.url`: run for real (Node imports the copy), and checked on TypeScript text that
 * a naive pattern would misread.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { relocate } from './relocate.ts';

describe('relocate', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ebbflow-relocate-'));
    await mkdir(join(dir, 'functions/lib'), { recursive: true });
    await mkdir(join(dir, 'shared'), { recursive: true });
    await mkdir(join(dir, 'functions/.ebbflow/staged'), { recursive: true });
    await writeFile(join(dir, 'functions/lib/twice.mjs'), 'export const twice = (n) => n * 2;\n');
    await writeFile(join(dir, 'shared/one.mjs'), 'export default 1;\n');
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('Should run a copy that imports beside, below and above its folder, with its own import.meta', async () => {
    const home = pathToFileURL(join(dir, 'functions/main.mjs')).href;
    const copy = pathToFileURL(join(dir, 'functions/.ebbflow/staged/main.1a2b3c4d.mjs')).href;
    const text = [
      "import { twice } from './lib/twice.mjs';",
      "export { default as one } from '../shared/one.mjs';",
      'export const url = import.meta.url;',
      'export const base = new URL("./data.txt", import.meta.url).href;',
      "export const later = () => import('./lib/twice.mjs').then((m) => m.twice(4));",
      'export default (n) => twice(n);',
      '',
    ].join('\n');
    const moved = await relocate(text, home, copy);
    expect(moved.split('\n')).toHaveLength(text.split('\n').length);
    await writeFile(new URL(copy), moved);
    const mod = await import(copy);
    expect(mod.default(21)).toBe(42);
    expect(mod.one).toBe(1);
    expect(mod.url).toBe(home);
    expect(mod.base).toBe(pathToFileURL(join(dir, 'functions/data.txt')).href);
    expect(await mod.later()).toBe(8);
  });

  it('Should leave TypeScript, bare and absolute specifiers, strings and comments alone', async () => {
    const home = 'file:///srv/functions/typed.ts';
    const copy = 'file:///srv/functions/.ebbflow/staged/typed.00000000.ts';
    const text = [
      "import type { Shape } from './types.ts';",
      "import { z } from 'zod';",
      "import fs from 'node:fs';",
      'const re = /import x from "\\.\\/nope"/;',
      `const s = \`import('./nope.ts') \${1 / 2}\`;`,
      "// import './commented.ts';",
      'const id = <T,>(v: T): T => v;',
      'enum E { A }',
      'export const config = { timeoutMs: 5 } satisfies Record<string, number>;',
      "export default async (n: number): Promise<Shape> => (await import('./dyn.ts')).run(n as number);",
    ].join('\n');
    const moved = await relocate(text, home, copy);
    expect(moved.split('\n')).toEqual([
      "import type { Shape } from '../../types.ts';",
      "import { z } from 'zod';",
      "import fs from 'node:fs';",
      'const re = /import x from "\\.\\/nope"/;',
      `const s = \`import('./nope.ts') \${1 / 2}\`;`,
      "// import './commented.ts';",
      'const id = <T,>(v: T): T => v;',
      'enum E { A }',
      'export const config = { timeoutMs: 5 } satisfies Record<string, number>;',
      'export default async (n: number): Promise<Shape> => (await import("../../dyn.ts")).run(n as number);',
    ]);
  });
});
