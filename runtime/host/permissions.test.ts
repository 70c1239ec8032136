import { afterEach, describe, expect, it } from 'vitest';
import { resolveFunctionConfig, resolveOptions } from '../options.ts';
import type { FunctionSource, WorkerHost } from '../worker-host.ts';
import { denoPermissions, denoRefusal, envRefusal, grantedEnv } from './permissions.ts';

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

describe('what no host grants a function', () => {
  const reserved = ['EBBFLOW_TOKEN', 'EBBFLOW_ADMIN_TOKEN', 'PORT'];

  it("Should refuse a function that names the server's own variables, and only those", () => {
    expect(envRefusal(['API_KEY', 'EBBFLOW_TOKEN', 'PORT'], reserved)).toBe(
      "config.permissions.env names EBBFLOW_TOKEN, PORT: a function is never granted the server's own variables",
    );
    expect(envRefusal(['API_KEY'], reserved)).toBeUndefined();
    expect(envRefusal(true, reserved)).toBeUndefined();
    expect(envRefusal(['EBBFLOW_TOKEN'], undefined)).toBeUndefined();
  });

  const protections = {
    reservedEnv: reserved,
    noAccess: ['/srv/app/.ebbflow'],
    noWrite: ['/srv/app/runtime', '/srv/app/node_modules'],
    noNet: ['10.0.0.5:6379'],
  };
  const refusal = (grants: Parameters<typeof denoRefusal>[1]) =>
    denoRefusal(moduleUrl, grants, protections);

  it.each([
    [{ env: ['EBBFLOW_ADMIN_TOKEN'] }, /env names EBBFLOW_ADMIN_TOKEN/],
    [{ env: true }, /env must name its variables/],
    [{ write: true }, /write must name its paths/],
    [{ write: ['.'] }, /write may not name "\.": it holds the functions folder/],
    [{ write: ['./'] }, /it holds the functions folder/],
    [{ write: ['..'] }, /it holds the functions folder/],
    [{ write: ['other.ts'] }, /write may not name "other\.ts": it is a function module/],
    [{ write: ['lib.mjs'] }, /it is a function module/],
    [{ write: ['.ebbflow-versions.json'] }, /hidden files beside the functions are the server's/],
    [{ write: ['.fib.1a2b3c4d.deploy.ts'] }, /hidden files/],
    [{ write: ['../runtime/worker'] }, /it reaches \/srv\/app\/runtime, which the server keeps/],
    [{ write: ['/srv/app/node_modules/comlink'] }, /node_modules, which the server keeps/],
    [{ write: ['../.ebbflow/tasks.db'] }, /\.ebbflow, which the server keeps/],
    [
      { read: ['../.ebbflow'] },
      /read may not name "\.\.\/\.ebbflow": it reaches \/srv\/app\/\.ebbflow/,
    ],
    [{ read: ['/srv'] }, /it reaches \/srv\/app\/\.ebbflow/],
    [{ read: true }, /read must name its paths/],
    [{ net: true }, /net must name its hosts: true would reach 10\.0\.0\.5:6379/],
    [{ net: ['10.0.0.5:6379'] }, /net may not name 10\.0\.0\.5:6379/],
    [{ net: ['10.0.0.5'] }, /net may not name 10\.0\.0\.5/],
  ])(
    "Should refuse on Deno %j: it reaches the server's variables, state or code",
    (grants, why) => {
      expect(refusal(grants)).toMatch(why);
    },
  );

  it('Should let a function have its own subfolders, files and hosts', () => {
    expect(
      refusal({
        env: ['API_KEY'],
        write: ['data', 'out/', 'notes.json', 'cache/fib.ts'],
        read: ['data', '/etc/ssl/certs'],
        net: ['api.example', '127.0.0.1:9000'],
        sys: true,
      }),
    ).toBeUndefined();
    // With nothing of the server's to reach, `true` reads and nets within its grants.
    expect(denoRefusal(moduleUrl, { read: true, net: true })).toBeUndefined();
  });
});
