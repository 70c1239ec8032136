import { describe, expect, it } from 'vitest';
import { LAUNCHER_ENV, SECRETS } from './deno-grants.ts';
import { functionVariables, reservedVariables, secretVariables } from './function-env.ts';
import { cleanedEnvironment, HANDED_ENV, handOver, isKept, takeOver } from './launch.mjs';
import { SETTINGS } from './settings.ts';

describe('the environment a launcher starts the server with', () => {
  const env = {
    PATH: '/usr/bin',
    HOME: '/home/me',
    LC_ALL: 'C',
    NODE_OPTIONS: '--max-old-space-size=4096',
    EBBFLOW_TOKEN: 'invoke-secret',
    EBBFLOW_ADMIN_TOKEN: 'admin-secret',
    EBBFLOW_FUNCTIONS: './fns',
    AWS_SECRET_ACCESS_KEY: 'aws-secret',
    npm_config_cache: '/home/me/.npm',
    UNSET: undefined,
  };

  it('Should keep only what the runtimes read, and mark it as handed over', () => {
    expect(cleanedEnvironment(env)).toEqual({
      PATH: '/usr/bin',
      HOME: '/home/me',
      LC_ALL: 'C',
      NODE_OPTIONS: '--max-old-space-size=4096',
      [HANDED_ENV]: 'stdin',
    });
    for (const spec of SETTINGS) expect(isKept(spec.env), spec.env).toBe(false);
  });

  it('Should hand the rest over as one line, read back whole', () => {
    const line = handOver(env);
    expect(line.endsWith('\n')).toBe(true);
    expect(line.slice(0, -1)).not.toContain('\n');
    const { UNSET: _, ...defined } = env;
    expect(takeOver(line.slice(0, -1))).toEqual(defined);
    expect(() => takeOver('[1]')).toThrow('the launcher handed over no environment');
    expect(takeOver('{"A":"1","B":2}')).toEqual({ A: '1' });
  });
});

describe("the server's own variables", () => {
  it('Should reserve every setting and the mark, and give functions all the rest', () => {
    const reserved = reservedVariables();
    for (const spec of SETTINGS) expect(reserved).toContain(spec.env);
    expect(reserved).toContain(HANDED_ENV);
    expect(
      functionVariables({ EBBFLOW_TOKEN: 't', PORT: '1', API_KEY: 'k', [HANDED_ENV]: 'stdin' }),
    ).toEqual({ API_KEY: 'k' });
  });

  it("Should have Deno's launcher read every secret, to take it out of the server's environment", () => {
    expect([...SECRETS].sort()).toEqual(secretVariables().sort());
    for (const secret of SECRETS) expect(LAUNCHER_ENV).toContain(secret);
  });
});
