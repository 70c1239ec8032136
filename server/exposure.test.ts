import { afterEach, describe, expect, it, vi } from 'vitest';
import { inProcessHost } from '../runtime/host/in-process.ts';
import { exposureWarning, isLoopback } from './exposure.ts';
import { type HostEntry, launch } from './launch.ts';

describe('isLoopback', () => {
  it('Should know the addresses only this machine reaches', () => {
    for (const host of ['127.0.0.1', '127.1.2.3', 'localhost', 'LOCALHOST', 'a.localhost', '::1']) {
      expect(isLoopback(host), host).toBe(true);
    }
    for (const host of ['[::1]', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1']) {
      expect(isLoopback(host), host).toBe(true);
    }
    for (const host of [
      '0.0.0.0',
      '::',
      '10.0.0.1',
      '192.168.1.2',
      'example.com',
      '127.0.0.1.nip.io',
    ]) {
      expect(isLoopback(host), host).toBe(false);
    }
  });
});

describe('exposureWarning', () => {
  it('Should warn of a server beyond this machine with no EBBFLOW_TOKEN, in one line', () => {
    const line = exposureWarning('0.0.0.0', undefined) as string;
    expect(line).toMatch(/^ebbflow: WARNING: listening on 0\.0\.0\.0 .*no EBBFLOW_TOKEN/);
    expect(line).not.toContain('\n');
    expect(exposureWarning('0.0.0.0', 'secret')).toBeUndefined();
    expect(exposureWarning('127.0.0.1', undefined)).toBeUndefined();
  });
});

describe('launch', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  /** Start on a host whose listen binds nothing; resolves with what went to stderr, then drains. */
  const start = async (env: Record<string, string>) => {
    const stderr: string[] = [];
    vi.spyOn(console, 'error').mockImplementation((line: string) => void stderr.push(line));
    vi.spyOn(console, 'log').mockImplementation(() => {});
    let signal: ((name: string) => void) | undefined;
    const exited = new Promise<number>((resolve) => {
      const host: HostEntry = {
        runtime: 'in-process',
        argv: [],
        env: { PORT: '0', ...env },
        workers: inProcessHost(),
        source: () => ({ list: async () => ({ entries: [], warnings: [] }) }),
        listen: async () => ({ url: 'http://nowhere', close: async () => {} }),
        onSignal: (handler) => {
          signal = handler;
        },
        exit: resolve,
      };
      void launch(host).then(() => signal?.('SIGTERM'));
    });
    const code = await exited;
    return { code, stderr };
  };

  it('Should print the warning once when HOST is beyond this machine and EBBFLOW_TOKEN is unset', async () => {
    const exposed = await start({ HOST: '0.0.0.0', EBBFLOW_ADMIN_TOKEN: 'admin-only' });
    expect(exposed.code).toBe(0);
    expect(exposed.stderr.filter((line) => line.includes('WARNING'))).toEqual([
      exposureWarning('0.0.0.0', undefined),
    ]);
    const quietEnvs: Record<string, string>[] = [
      { HOST: '0.0.0.0', EBBFLOW_TOKEN: 'set' },
      { HOST: '127.0.0.1' },
    ];
    for (const env of quietEnvs) {
      const quiet = await start(env);
      expect(quiet.stderr.some((line) => line.includes('WARNING'))).toBe(false);
    }
  });

  it('Should refuse a token with a space at start: exit 2, naming the variable, not the token', async () => {
    const refused = await start({ EBBFLOW_TOKEN: 'two words' });
    expect(refused.code).toBe(2);
    expect(refused.stderr.join('\n')).toContain(
      'ebbflow: EBBFLOW_TOKEN has a space at character 4',
    );
    expect(refused.stderr.join('\n')).not.toContain('two words');
  });
});
