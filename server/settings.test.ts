import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DEFAULTS } from '../runtime/index.ts';
import {
  parseSettings,
  runtimeSettings,
  SETTINGS,
  type Settings,
  SettingsError,
  usage,
} from './settings.ts';

const settings = (argv: string[], env: Record<string, string> = {}): Settings => {
  const parsed = parseSettings(argv, env);
  if (parsed.help) throw new Error('unexpected help');
  return parsed.settings;
};

const failure = (argv: string[], env: Record<string, string> = {}): string => {
  try {
    parseSettings(argv, env);
  } catch (error) {
    expect(error).toBeInstanceOf(SettingsError);
    return (error as Error).message;
  }
  throw new Error('expected a SettingsError');
};

describe('parseSettings', () => {
  it('Should give the defaults, leaving the runtime settings to the runtime', () => {
    expect(settings([])).toEqual({
      port: 8787,
      host: '127.0.0.1',
      functions: './functions',
      maxBodyBytes: 1_048_576,
      corsOrigin: '*',
      maxFunctionBytes: 1_048_576,
      clusterLostAfterMs: 30_000,
      maxStreams: 1000,
      redisTimeoutMs: 5_000,
      store: 'sqlite',
      data: './.ebbflow/tasks.db',
      dataSync: 'normal',
    });
  });

  it('Should read every setting from its variable and from its flag', () => {
    const values: Record<string, string> = {
      port: '0',
      host: '0.0.0.0',
      functions: 'fns',
      minWorkers: '0',
      maxWorkers: '7',
      scaleUpThreshold: '0.9',
      scaleDownThreshold: '0.2',
      monitorIntervalMs: '500',
      taskTimeoutMs: '1000',
      maxQueue: '5',
      maxBodyBytes: '2048',
      resultTtlMs: '0',
      maxResults: '10',
      drainTimeoutMs: '0',
      scaleUpStep: '3',
      scaleDownStep: '2',
      scaleDownDelayMs: '0',
      reactIntervalMs: '50',
      maxEventLoopLagMs: '100',
      maxMemoryUsage: '0.7',
      maxCpuUsage: '1',
      memoryLimitMb: '64',
      token: 'abc',
      corsOrigin: 'https://a.example',
      adminToken: 'root',
      maxFunctionBytes: '4096',
      redisUrl: 'redis://127.0.0.1:6380',
      clusterLostAfterMs: '5000',
      maxStreams: '3',
      maxResultBytes: '65536',
      keepVersions: '3',
      redisTimeoutMs: '2000',
      store: 'memory',
      data: '/var/lib/ebbflow/tasks.db',
      dataSync: 'full',
      idempotencyTtlMs: '60000',
    };
    const env = Object.fromEntries(SETTINGS.map((s) => [s.env, values[s.key] as string]));
    const argv = SETTINGS.flatMap((s) => [s.flag, values[s.key] as string]);
    const expected = Object.fromEntries(
      SETTINGS.map((s) => {
        const raw = values[s.key] as string;
        const textual =
          s.kind === 'text' || s.kind === 'redis' || s.kind === 'token' || s.kind === 'choice';
        return [s.key, textual ? raw : Number(raw)];
      }),
    );
    expect(settings([], env)).toEqual(expected);
    expect(settings(argv)).toEqual(expected);
  });

  it('Should hand every runtime setting to the runtime under its option name, and only those', () => {
    const valid = (spec: (typeof SETTINGS)[number]): string => {
      if (spec.kind === 'text' || spec.kind === 'token') return 'x';
      if (spec.kind === 'redis') return 'redis://127.0.0.1:6379';
      if (spec.kind === 'choice') return spec.choices?.[0] ?? '';
      if (spec.kind === 'ratio' || spec.kind === 'share') {
        return spec.key === 'scaleDownThreshold' ? '0.2' : '0.9';
      }
      return String(spec.min ?? 0);
    };
    const all = settings(SETTINGS.flatMap((spec) => [spec.flag, valid(spec)]));
    const owned = SETTINGS.filter((s) => s.key in DEFAULTS).map((s) => s.key);
    expect(Object.keys(runtimeSettings(all)).sort()).toEqual(owned.sort());
    expect(owned).toEqual(expect.arrayContaining(['scaleUpStep', 'maxCpuUsage', 'memoryLimitMb']));
    expect(runtimeSettings(settings([]))).toEqual({});
  });

  it('Should let a flag win over its variable, with either flag form', () => {
    expect(settings(['--port', '9000'], { PORT: '8000' }).port).toBe(9000);
    expect(settings(['--port=9001'], { PORT: '8000' }).port).toBe(9001);
    expect(settings([], { PORT: '8000' }).port).toBe(8000);
    expect(settings([], { PORT: '' }).port).toBe(8787);
  });

  it('Should name the variable or flag and the bad value', () => {
    expect(failure([], { PORT: 'abc' })).toBe('PORT must be an integer from 0 to 65535, got "abc"');
    expect(failure(['--port', '70000'])).toBe(
      '--port must be an integer from 0 to 65535, got "70000"',
    );
    expect(failure([], { EBBFLOW_MAX_WORKERS: '0' })).toContain('EBBFLOW_MAX_WORKERS must be');
    expect(failure(['--min-workers', '-1'])).toContain('--min-workers must be an integer >= 0');
    expect(failure(['--task-timeout-ms', '1.5'])).toContain('--task-timeout-ms');
    expect(failure(['--task-timeout-ms', '9999999999'])).toContain('from 1 to 2147483647');
    expect(failure([], { EBBFLOW_RESULT_TTL_MS: '2147483648' })).toBe(
      'EBBFLOW_RESULT_TTL_MS must be an integer from 0 to 2147483647, got "2147483648"',
    );
    expect(failure([], { EBBFLOW_SCALE_UP: 'high' })).toContain(
      'EBBFLOW_SCALE_UP must be a number',
    );
    expect(failure([], { EBBFLOW_SCALE_DOWN: '0.9' })).toContain('must be below');
    expect(failure(['--host', ' '])).toContain('--host must be a non-empty string');
    expect(failure([], { EBBFLOW_MAX_MEMORY_USAGE: '1.5' })).toBe(
      'EBBFLOW_MAX_MEMORY_USAGE must be a number above 0 and at most 1, got "1.5"',
    );
    expect(failure(['--memory-limit-mb', '8'])).toContain(
      '--memory-limit-mb must be an integer >= 16',
    );
    expect(failure(['--prot', '1'])).toContain('unknown argument "--prot"');
    expect(failure(['--port'])).toBe('--port needs a value');
    expect(failure([], { EBBFLOW_REDIS_URL: 'localhost:6379' })).toBe(
      'EBBFLOW_REDIS_URL must be a URL such as redis://host:6379, got "localhost:6379"',
    );
    expect(failure(['--port', '--host', 'x'])).toBe('--port needs a value');
    expect(failure([], { EBBFLOW_MAX_RESULT_BYTES: '268435457' })).toBe(
      'EBBFLOW_MAX_RESULT_BYTES must be an integer from 1 to 268435456, got "268435457"',
    );
    expect(failure(['--max-streams', '0'])).toContain('--max-streams must be an integer >= 1');
    expect(failure([], { EBBFLOW_STORE: 'disk' })).toBe(
      'EBBFLOW_STORE must be one of sqlite, memory, got "disk"',
    );
    expect(failure(['--data-sync', 'always'])).toBe(
      '--data-sync must be one of normal, full, got "always"',
    );
  });

  it('Should refuse a token no Bearer header could carry, naming the variable and not the token', () => {
    const bad: Array<[string, string]> = [
      ['two words', 'has a space at character 4'],
      [' lead', 'has a space at character 1'],
      ['tab\there', 'has a space at character 4'],
      ['caf\u00e9', 'has a character outside visible ASCII (U+00E9) at character 4'],
      ['line\nbreak', 'has a character outside visible ASCII (U+000A) at character 5'],
    ];
    for (const [token, problem] of bad) {
      for (const env of ['EBBFLOW_TOKEN', 'EBBFLOW_ADMIN_TOKEN']) {
        const message = failure([], { [env]: token });
        expect(message).toContain(`${env} ${problem}`);
        expect(message).toContain('no "Authorization: Bearer <token>" header could ever match it');
        expect(message).not.toContain(token);
      }
    }
    expect(failure(['--token', ''])).toContain('--token is empty');
    expect(failure(['--admin-token', 'a b'])).toContain('--admin-token has a space');
    // What a header can carry is kept as it is.
    const fine = 'Az09-._~+/=!#$%&*^`|';
    expect(settings([], { EBBFLOW_TOKEN: fine, EBBFLOW_ADMIN_TOKEN: 'x' })).toMatchObject({
      token: fine,
      adminToken: 'x',
    });
    // An empty variable is unset, as for every setting.
    expect(settings([], { EBBFLOW_TOKEN: '' }).token).toBeUndefined();
  });

  it('Should ask for help', () => {
    expect(parseSettings(['--help'], {})).toEqual({ help: true });
    for (const s of SETTINGS) {
      expect(usage()).toContain(s.flag);
      expect(usage()).toContain(s.env);
    }
  });

  it('Should be documented: docs/api.md lists every variable and flag', () => {
    const docs = readFileSync(new URL('../docs/api.md', import.meta.url), 'utf8');
    for (const s of SETTINGS) {
      expect(docs).toContain(`\`${s.env}\``);
      expect(docs).toContain(`\`${s.flag}\``);
    }
  });
});
