import { afterEach, describe, expect, it } from 'vitest';
import { resolveFunctionConfig, resolveOptions } from '../options.ts';
import type { FunctionSource, WorkerHost } from '../worker-host.ts';
import { denoPermissions, grantedEnv } from './permissions.ts';

const options = resolveOptions({ source: {} as FunctionSource, host: {} as WorkerHost });
const moduleUrl = 'file:///srv/app/functions/fib.ts';

describe('config.permissions', () => {
  it('Should keep valid grants and leave them out when none are given', () => {
    expect(resolveFunctionConfig({}, options).permissions).toBeUndefined();
    const grants = { env: ['API_KEY'], net: true, read: ['data/'] };
    expect(resolveFunctionConfig({ permissions: grants }, options).permissions).toEqual(grants);
  });

  it('Should name the bad grant and its value', () => {
    expect(() => resolveFunctionConfig({ permissions: 'all' }, options)).toThrow(
      'option config.permissions must be an object, got "all"',
    );
    expect(() => resolveFunctionConfig({ permissions: { hrtime: true } }, options)).toThrow(
      'option config.permissions.hrtime must be one of read, write, net, env, run, sys, ffi, got "hrtime"',
    );
    expect(() => resolveFunctionConfig({ permissions: { env: 'API_KEY' } }, options)).toThrow(
      'option config.permissions.env must be true, false or a list of strings, got "API_KEY"',
    );
    expect(() => resolveFunctionConfig({ permissions: { net: [''] } }, options)).toThrow(
      'config.permissions.net',
    );
  });
});

describe('denoPermissions', () => {
  it('Should allow reading only the functions folder by default', () => {
    const p = denoPermissions(moduleUrl);
    expect(p.read).toEqual([new URL('file:///srv/app/functions/')]);
    for (const kind of ['write', 'net', 'env', 'run', 'sys', 'ffi', 'import']) {
      expect(p[kind], kind).toBe(false);
    }
  });

  it('Should resolve granted paths against the functions folder and pass names through', () => {
    const p = denoPermissions(moduleUrl, {
      read: ['data/', '/etc/ssl/certs'],
      write: ['out/'],
      net: ['api.example.com:443'],
      env: ['API_KEY'],
    });
    expect(p.read).toEqual([
      new URL('file:///srv/app/functions/'),
      new URL('file:///srv/app/functions/data/'),
      new URL('file:///etc/ssl/certs'),
    ]);
    expect(p.write).toEqual([new URL('file:///srv/app/functions/out/')]);
    expect(p.net).toEqual(['api.example.com:443']);
    expect(p.env).toEqual(['API_KEY']);
    expect(denoPermissions(moduleUrl, { read: true, run: true })).toMatchObject({
      read: true,
      run: true,
    });
  });
});

describe('grantedEnv', () => {
  afterEach(() => {
    delete process.env.EBBFLOW_TEST_GRANT;
  });

  it('Should give workers only the variables a function names', () => {
    process.env.EBBFLOW_TEST_GRANT = 'yes';
    expect(grantedEnv(undefined)).toEqual({});
    expect(grantedEnv(false)).toEqual({});
    expect(grantedEnv(['EBBFLOW_TEST_GRANT', 'EBBFLOW_NOT_SET'])).toEqual({
      EBBFLOW_TEST_GRANT: 'yes',
    });
    expect(grantedEnv(true)).toMatchObject({ EBBFLOW_TEST_GRANT: 'yes' });
  });
});
