/**
 * `ebbflow types` and the client's compile-time checks: the generator writes the declaration
 * for a fixture project's functions, then the TypeScript checker compiles a file of calls in
 * which the right ones must pass and each wrong one (marked `@ts-expect-error`) must be an error.
 */
import { spawnSync } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { writeTypes } from '../cli/types.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const FIXTURE = join(ROOT, 'test/fixtures/typed-client');
const OUT = join(FIXTURE, 'ebbflow-functions.d.ts');

const tsc = (project: string) =>
  spawnSync(join(ROOT, 'node_modules/.bin/tsc'), ['-p', project], { encoding: 'utf8' });

describe('ebbflow types and the typed client', () => {
  it('Should map each function to its signature, and make wrong calls type errors', async () => {
    const count = await writeTypes({ functions: join(FIXTURE, 'functions'), out: OUT });
    expect(count).toBe(3);
    const text = await readFile(OUT, 'utf8');
    expect(text).toContain(`"fib": SignatureOf<typeof import("./functions/fib.js")>;`);
    const result = tsc(join(FIXTURE, 'tsconfig.json'));
    expect(result.stdout + result.stderr).toBe('');
    expect(result.status).toBe(0);
  }, 120_000);

  it('Should fail the check when a wrong call is not marked', async () => {
    await writeTypes({ functions: join(FIXTURE, 'functions'), out: OUT });
    const usage = await readFile(join(FIXTURE, 'usage.ts'), 'utf8');
    // Unmarked, the same wrong calls are errors: the directives above were not decoration.
    const unmarked = usage.replaceAll('// @ts-expect-error', '// was expected');
    const dir = await mkdtemp(join(FIXTURE, '.tmp-'));
    try {
      await cp(join(FIXTURE, 'functions'), join(dir, 'functions'), { recursive: true });
      await writeFile(join(dir, 'usage.ts'), unmarked);
      await writeTypes({
        functions: join(dir, 'functions'),
        out: join(dir, 'ebbflow-functions.d.ts'),
      });
      const config = JSON.parse(await readFile(join(FIXTURE, 'tsconfig.json'), 'utf8'));
      config.compilerOptions.paths['ebbflow/client'] = ['../../../../client/index.ts'];
      await writeFile(join(dir, 'tsconfig.json'), JSON.stringify(config));
      const result = tsc(join(dir, 'tsconfig.json'));
      expect(result.status).not.toBe(0);
      const errors = (result.stdout.match(/error TS\d+/g) ?? []).length;
      expect(errors).toBe(7);
      expect(result.stdout).toContain("'string' is not assignable to type 'number'");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
