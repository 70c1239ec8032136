import { describe, expect, it } from 'vitest';
import {
  denoCommand,
  denoFlags,
  denoGrants,
  grantingCommand,
  listenSettings,
  PROJECT_ROOT,
  unlistable,
  withFunctionGrants,
} from './deno-grants.ts';
import { SETTINGS } from './settings.ts';

const ROOT = '/srv/ebbflow';

describe('denoGrants', () => {
  it('Should grant the functions folder (read, and write for deploys), the project code workers load, and the listen address', () => {
    const grants = denoGrants(
      { host: '127.0.0.2', port: 8080, functions: './fns' },
      ROOT,
      '/home/me',
    );
    expect(grants).toEqual({
      read: [
        '/home/me/fns',
        '/srv/ebbflow/runtime',
        '/srv/ebbflow/node_modules',
        '/srv/ebbflow/api/pages',
      ],
      net: ['127.0.0.2:8080'],
      // The settings' variables, and the mark of a server whose launcher hands over its secrets.
      env: [...SETTINGS.map((s) => s.env), 'EBBFLOW_HANDED_ENV'],
      sys: ['systemMemoryInfo'],
      write: ['/home/me/fns'],
      run: [],
      ffi: [],
    });
  });

  it("Should grant the task store's folder (read and write) to the server alone, only when it keeps its tasks there", () => {
    const grants = denoGrants(
      { ...listenSettings([], {}), functions: './fns', data: './state/tasks.db' },
      ROOT,
      '/home/me',
    );
    expect(grants.read).toContain('/home/me/state');
    expect(grants.write).toEqual(['/home/me/fns', '/home/me/state']);
    // The default: ./.ebbflow beside the working folder, an absolute file's own folder.
    expect(denoGrants(listenSettings([], {}), ROOT, '/w').write).toContain('/w/.ebbflow');
    expect(
      denoGrants(listenSettings(['--data', '/var/lib/e/t.db'], {}), ROOT, '/w').write,
    ).toContain('/var/lib/e');
    for (const other of [{ store: 'memory' as const }, { redisUrl: 'redis://r:1' }]) {
      const none = denoGrants({ ...listenSettings([], {}), ...other }, ROOT, '/w');
      expect(none.write).toEqual(['/w/functions']);
      expect(none.read).not.toContain('/w/.ebbflow');
    }
    expect(listenSettings([], { EBBFLOW_DATA: '/d/x.db', EBBFLOW_STORE: 'memory' })).toMatchObject({
      data: '/d/x.db',
      store: 'memory',
    });
  });

  it('Should name only the host for port 0, bracket IPv6, and keep an absolute folder', () => {
    const grants = denoGrants({ host: '::1', port: 0, functions: '/data/fns' }, ROOT, '/x');
    expect(grants.net).toEqual(['[::1]']);
    expect(grants.read).toContain('/data/fns');
  });

  it('Should grant every setting variable, so a new setting needs no change here', () => {
    const grants = denoGrants(listenSettings([], {}), ROOT, '/x');
    for (const s of SETTINGS) expect(grants.env).toContain(s.env);
  });

  it('Should reach a shared Redis and grant all variables, which ioredis lists at load', () => {
    const grants = denoGrants(
      { host: '127.0.0.1', port: 0, functions: '/fns', redisUrl: 'redis://10.0.0.5' },
      ROOT,
      '/',
    );
    expect(grants.net).toEqual(['127.0.0.1', '10.0.0.5:6379']);
    expect(grants.env).toBe(true);
    expect(listenSettings([], { EBBFLOW_REDIS_URL: 'redis://r:7000' }).redisUrl).toBe(
      'redis://r:7000',
    );
  });

  it('Should read the listen settings from flags and variables, with defaults for --help', () => {
    expect(listenSettings(['--port', '9'], { HOST: '127.0.0.3' })).toMatchObject({
      host: '127.0.0.3',
      port: 9,
      functions: './functions',
    });
    expect(listenSettings(['--help'], {})).toMatchObject({ host: '127.0.0.1', port: 8787 });
    expect(() => listenSettings([], { PORT: 'x' })).toThrow('PORT must be an integer');
  });
});

describe('withFunctionGrants and denoFlags', () => {
  const base = denoGrants({ host: '127.0.0.1', port: 0, functions: '/fns' }, ROOT, '/');

  it('Should add what a function asks for, paths relative to its folder', () => {
    const flags = denoFlags(
      withFunctionGrants(base, '/fns', { env: ['SECRET'], read: ['data'], net: ['api.example'] }),
    );
    expect(flags).toEqual([
      '--allow-read=/fns,/srv/ebbflow/runtime,/srv/ebbflow/node_modules,/srv/ebbflow/api/pages,/fns/data',
      '--allow-net=127.0.0.1,api.example',
      `--allow-env=${[...SETTINGS.map((s) => s.env), 'EBBFLOW_HANDED_ENV', 'SECRET'].join(',')}`,
      '--allow-sys=systemMemoryInfo',
      '--allow-write=/fns',
    ]);
  });

  it('Should turn `true` into an unrestricted flag and leave empty kinds out', () => {
    const flags = denoFlags(withFunctionGrants(base, '/fns', { write: true, run: ['git'] }));
    expect(flags).toContain('--allow-write');
    expect(flags).toContain('--allow-run=git');
    expect(flags.some((f) => f.startsWith('--allow-ffi'))).toBe(false);
  });

  it('Should print a command that can be pasted, quoting what a shell would split', () => {
    const grants = denoGrants({ host: '127.0.0.1', port: 0, functions: '/my fns' }, ROOT, '/');
    const command = denoCommand(grants, ROOT, ['--functions', '/my fns']);
    expect(command).toMatch(
      /^\/srv\/ebbflow\/node_modules\/\.bin\/deno run --config=\/srv\/ebbflow\/deno\.json /,
    );
    expect(command).toContain("'--allow-read=/my fns,");
    expect(command).toMatch(/ \/srv\/ebbflow\/server\/deno\.ts --functions '\/my fns'$/);
  });

  it('Should refuse a path Deno cannot list', () => {
    const grants = denoGrants({ host: '127.0.0.1', port: 0, functions: '/a,b' }, ROOT, '/');
    expect(unlistable(grants)).toBe('Deno cannot grant a name or path with a comma in it: /a,b');
    expect(unlistable(base)).toBeUndefined();
  });
});

describe('grantingCommand', () => {
  it('Should start the project server with the settings it was given and what a function asks for', () => {
    const command = grantingCommand(['--port', '9000'], { HOST: '127.0.0.2' }, '/here', {
      env: ['SECRET'],
    });
    expect(command).toContain(`--allow-read=/here/functions,${PROJECT_ROOT}/runtime,`);
    expect(command).toContain('--allow-net=127.0.0.2:9000');
    expect(command).toMatch(/--allow-env=\S*,SECRET /);
    expect(command).toMatch(/server\/deno\.ts --port 9000$/);
  });

  it('Should fall back to the defaults when a setting does not parse', () => {
    expect(grantingCommand([], { PORT: 'x' }, '/here')).toContain('--allow-net=127.0.0.1:8787');
  });
});
