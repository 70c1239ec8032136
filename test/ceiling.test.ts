/**
 * Sharing the ceiling (contract v2) on each host: hosts/ceiling-check.ts run by tsx (Node), Deno
 * and Bun. The figures each check prints (workers reached and how long it took) are shown.
 */
import { describe, expect, it } from 'vitest';
import { bin, runCheck } from './support/host-check.ts';

const script = 'test/hosts/ceiling-check.ts';

const HOSTS = [
  { host: 'node', command: bin('tsx'), args: [script] },
  {
    host: 'deno',
    command: bin('deno'),
    args: ['run', '--allow-read=.', '--allow-sys=systemMemoryInfo', script],
  },
  { host: 'bun', command: bin('bun'), args: [script] },
] as const;

const CHECKS = [
  '12 functions, CPU burst on the last',
  '16 functions under maxWorkers 6, sleep burst on the last',
  '50 functions under the default ceiling, burst on one',
];

describe.each(HOSTS)('sharing the worker ceiling on $host', ({ host, command, args }) => {
  it('Should let a loaded function take idle workers of others', { timeout: 240_000 }, async () => {
    const { code, out, err } = await runCheck(command, args);
    console.info(out);
    expect(out, err).not.toMatch(/^not ok/m);
    expect(out).toContain(`# host ${host}`);
    for (const check of CHECKS) expect(out).toMatch(new RegExp(`^ok ${check} `, 'm'));
    expect(code, err).toBe(0);
  });
});
