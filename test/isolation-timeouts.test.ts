/**
 * Timeouts and cancels are the server's word on every host: hosts/escape-check.ts runs functions
 * that tamper with their own globals and shared memory (test/fixtures/escape) on Node (tsx), Deno
 * and Bun, with real workers; each must end `timed_out` or `cancelled` on time, and a cancelled
 * one must never write the file it would have written. Each host gets its own copy of the
 * fixtures (Deno grants the cancelled function write of that copy's `out/` only).
 */
import { cpSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { bin, runCheck } from './support/host-check.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const folders: string[] = [];
afterAll(() => {
  for (const folder of folders) rmSync(folder, { recursive: true, force: true });
});

const fixtures = (): string => {
  const folder = mkdtempSync(join(tmpdir(), 'ebbflow-escape-'));
  folders.push(folder);
  cpSync(join(ROOT, 'test/fixtures/escape'), folder, { recursive: true });
  mkdirSync(join(folder, 'out'));
  return folder;
};

const CHECK = 'test/hosts/escape-check.ts';
const HOSTS = [
  { host: 'node', command: bin('tsx'), args: (folder: string) => [CHECK, folder] },
  {
    host: 'deno',
    command: bin('deno'),
    args: (folder: string) => [
      'run',
      `--allow-read=${ROOT},${folder}`,
      `--allow-write=${join(folder, 'out')}`,
      CHECK,
      folder,
    ],
  },
  { host: 'bun', command: bin('bun'), args: (folder: string) => [CHECK, folder] },
] as const;

const CHECKS = [
  'float64 trick',
  'atomics and ports',
  'clocks, timers and postMessage',
  'cancel',
  'throws that cannot be described',
];

describe.each(HOSTS)('timeouts and cancels on $host', ({ host, command, args }) => {
  it('Should end every escape attempt timed out or cancelled, on time', {
    timeout: 180_000,
  }, async () => {
    const { code, out, err } = await runCheck(command, args(fixtures()));
    expect(out, err).not.toMatch(/^not ok/m);
    expect(out).toContain(`# host ${host}`);
    for (const check of CHECKS) expect(out).toMatch(new RegExp(`^ok ${check}$`, 'm'));
    expect(code, err).toBe(0);
  });
});
