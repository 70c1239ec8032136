/**
 * The runtime core with real workers on each host: hosts/runtime-check.ts run by tsx (Node),
 * Deno (through `deno task test`, with the task's own narrow permissions) and Bun.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const bin = (name: string) =>
  fileURLToPath(new URL(`../node_modules/.bin/${name}`, import.meta.url));

const HOSTS = [
  { host: 'node', command: bin('tsx'), args: ['test/hosts/runtime-check.ts'] },
  { host: 'deno', command: bin('deno'), args: ['task', '--quiet', 'test'] },
  { host: 'bun', command: bin('bun'), args: ['test/hosts/runtime-check.ts'] },
] as const;

const run = (command: string, args: readonly string[]) =>
  new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
    const child = spawn(command, args, {
      cwd: root,
      env: { ...process.env, EBBFLOW_SECRET: 'server-only', EBBFLOW_GRANTED: 'granted-value' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
    });
    child.stderr.on('data', (chunk) => {
      err += chunk;
    });
    child.on('exit', (code) => resolve({ code, out, err }));
  });

const CHECKS = [
  'call',
  'throw',
  'timeout',
  'cancel',
  'load failure',
  'exit',
  'crash',
  'busy worker',
  'sandbox',
];

describe.each(HOSTS)('the runtime core on $host', ({ host, command, args }) => {
  it('Should pass every check with real workers', { timeout: 120_000 }, async () => {
    const { code, out, err } = await run(command, args);
    expect(out, err).not.toMatch(/^not ok/m);
    expect(out).toContain(`# host ${host}`);
    for (const check of CHECKS) expect(out).toMatch(new RegExp(`^ok ${check}$`, 'm'));
    // Node has no heartbeat; Deno and Bun must replace a worker that stalls while idle.
    if (host !== 'node') expect(out).toMatch(/^ok stalled worker$/m);
    expect(code, err).toBe(0);
  });
});
