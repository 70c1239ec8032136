/**
 * The embedded SQLite store on Deno (`node:sqlite`) and Bun (`bun:sqlite`): the `TaskBackend`
 * contract suite and the store's own checks (hosts/store-contract.ts), run by each host's own
 * binary with vitest's matchers (hosts/vitest-shim.ts). Node runs the same suite under vitest
 * (runtime/backend/contract.test.ts, over libsql).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bin, runCheck } from './support/host-check.ts';

const dir = mkdtempSync(join(tmpdir(), 'ebbflow-host-store-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const HOSTS = [
  {
    host: 'deno',
    command: bin('deno'),
    args: [
      'run',
      '--import-map=test/hosts/vitest-imports.json',
      `--allow-read=.,${dir}`,
      `--allow-write=${dir}`,
      // vitest's matchers read colour settings from the environment.
      '--allow-env',
      'test/hosts/store-contract.ts',
    ],
  },
  {
    host: 'bun',
    command: bin('bun'),
    args: [
      '--tsconfig-override=test/hosts/tsconfig.vitest-shim.json',
      'test/hosts/store-contract.ts',
    ],
  },
] as const;

describe.each(HOSTS)('the SQLite task store on $host', ({ host, command, args }) => {
  it('Should pass the TaskBackend contract suite and the store checks', {
    timeout: 180_000,
  }, async () => {
    const { code, out, err } = await runCheck(command, args, { EBBFLOW_TEST_DIR: dir });
    expect(out, err).not.toMatch(/^not ok/m);
    expect(out).toContain(`# host ${host}`);
    const passed = Number(/^# (\d+) passed, 0 failed/m.exec(out)?.[1] ?? 0);
    // Every contract test and the store's own ran (none skipped, none lost).
    expect(passed, out).toBeGreaterThanOrEqual(35);
    expect(out).toMatch(/^ok .*Should refuse a second store on the same file, naming it$/m);
    expect(out).toMatch(/^ok .*idempotency keys > Should create one task for concurrent/m);
    expect(code, err).toBe(0);
  });
});
