/**
 * The runtime core with real workers on each host: hosts/runtime-check.ts run by tsx (Node),
 * Deno (through `deno task test`, with the task's own narrow permissions) and Bun.
 */
import { describe, expect, it } from 'vitest';
import { bin, runCheck } from './support/host-check.ts';

const HOSTS = [
  { host: 'node', command: bin('tsx'), args: ['test/hosts/runtime-check.ts'] },
  { host: 'deno', command: bin('deno'), args: ['task', '--quiet', 'test'] },
  { host: 'bun', command: bin('bun'), args: ['test/hosts/runtime-check.ts'] },
] as const;

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
    const { code, out, err } = await runCheck(command, args, {
      EBBFLOW_SECRET: 'server-only',
      EBBFLOW_GRANTED: 'granted-value',
    });
    expect(out, err).not.toMatch(/^not ok/m);
    expect(out).toContain(`# host ${host}`);
    for (const check of CHECKS) expect(out).toMatch(new RegExp(`^ok ${check}$`, 'm'));
    // Node has no heartbeat; Deno and Bun must replace a worker that stalls while idle.
    if (host !== 'node') expect(out).toMatch(/^ok stalled worker$/m);
    expect(code, err).toBe(0);
  });
});
