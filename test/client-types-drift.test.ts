/**
 * The compile-time check that the client's types mirror the runtime's
 * (`test/client-types-drift.ts`) is not decoration: compiled over a copy of the client with a
 * field renamed, it fails and names the field; over the client as it is, it passes.
 */
import { spawnSync } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/**
 * The check and a copy of the client, compiled by a tsconfig of their own, in `.cache/` (which
 * neither `tsc -p .` nor Biome reads, so a run beside this one never sees the edited copy).
 */
let dir: string;

const compile = () =>
  spawnSync(join(ROOT, 'node_modules/.bin/tsc'), ['-p', join(dir, 'tsconfig.json')], {
    encoding: 'utf8',
  });

/** Replace `from` with `to` in the copy of `client/<file>`. */
const edit = async (file: string, from: string, to: string) => {
  const path = join(dir, 'client', file);
  const text = await readFile(path, 'utf8');
  expect(text).toContain(from);
  await writeFile(path, text.replace(from, to));
};

beforeAll(async () => {
  await mkdir(join(ROOT, '.cache'), { recursive: true });
  dir = await mkdtemp(join(ROOT, '.cache', 'client-drift-'));
  await cp(join(ROOT, 'client'), join(dir, 'client'), { recursive: true });
  const check = await readFile(join(ROOT, 'test', 'client-types-drift.ts'), 'utf8');
  await writeFile(
    join(dir, 'check.ts'),
    check
      .replace("'../client/index.ts'", "'./client/index.ts'")
      .replace("'../runtime/index.ts'", "'../../runtime/index.ts'"),
  );
  const config = { extends: '../../tsconfig.json', include: ['check.ts'], exclude: [] };
  await writeFile(join(dir, 'tsconfig.json'), JSON.stringify(config));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe("the client's types against the runtime's", () => {
  it('Should pass as the client is, and fail naming a renamed field', async () => {
    const same = compile();
    expect(same.stdout + same.stderr).toBe('');
    expect(same.status).toBe(0);

    await edit('types.ts', '  executionTime?: number;', '  runTime?: number;');
    const renamed = compile();
    expect(renamed.status).not.toBe(0);
    expect(renamed.stdout).toContain('"TaskRecord.executionTime: runtime only"');
    expect(renamed.stdout).toContain('"event task.executionTime: runtime only"');
  }, 60_000);

  it('Should fail on a type the client does not accept and on a field the runtime lacks', async () => {
    await cp(join(ROOT, 'client'), join(dir, 'client'), { recursive: true });
    await edit('types.ts', '  workerId?: number;', '  workerId?: string;');
    await edit('types.ts', '  loadRatio: number;', '  loadRatio: number;\n  warmWorkers: number;');
    const result = compile();
    expect(result.status).not.toBe(0);
    expect(result.stdout).toContain(
      '"TaskRecord.workerId: the client does not accept the runtime\'s type"',
    );
    expect(result.stdout).toContain('"PoolStats.functions[*].warmWorkers: client only"');
  }, 60_000);
});
