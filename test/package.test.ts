/**
 * The package as a new user gets it: `npm pack`, installed into a fresh project offline (the
 * project's lock is the repository's, so `npm ci --offline` takes every dependency from the npm
 * cache that `npm ci` filled), then `npx ebbflow serve ./functions`, `npx ebbflow deploy` and
 * `npx ebbflow invoke` there, with no TypeScript loader. Also: package.json and deno.json export
 * the same entry points.
 */
import { execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, ENTRIES } from '../scripts/entries.ts';
import { ROOT } from './support/server.ts';
import { until } from './support/wait.ts';

const run = promisify(execFile);
const json = (file: string) => JSON.parse(readFileSync(join(ROOT, file), 'utf8'));

describe('package.json and deno.json', () => {
  const pkg = json('package.json');
  const deno = json('deno.json');

  it('Should export the same entry points, from dist/ and from the sources', () => {
    expect(pkg.private).toBeUndefined();
    for (const [key, { dist, source }] of Object.entries(ENTRIES)) {
      expect(pkg.exports[key]).toEqual({
        types: `./dist/types/${source.replace(/\.ts$/, '.d.ts')}`,
        import: `./dist/${dist}.js`,
      });
      expect(deno.exports[key]).toBe(`./${source}`);
    }
    expect(Object.keys(deno.exports).sort()).toEqual(Object.keys(ENTRIES).sort());
    expect(pkg.bin).toEqual({ ebbflow: `./dist/${BIN.dist}.js` });
    expect(deno.name).toMatch(/^@[a-z0-9-]+\/ebbflow$/);
    expect(deno.version).toBe(pkg.version);
  });
});

describe('the packed package in a fresh project', () => {
  let dir: string;
  let project: string;
  const children: Array<{ pid?: number }> = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ebbflow-package-'));
    const { stdout } = await run('npm', ['pack', ROOT, '--pack-destination', dir, '--silent'], {
      cwd: dir,
    });
    const tarball = stdout.trim().split('\n').at(-1) as string;
    project = join(dir, 'project');
    await mkdir(join(project, 'functions'), { recursive: true });
    await writeFile(
      join(project, 'package.json'),
      JSON.stringify({
        name: 'project',
        private: true,
        type: 'module',
        dependencies: { ebbflow: `file:../${tarball}` },
      }),
    );
    await writeFile(
      join(project, 'package-lock.json'),
      JSON.stringify(lockFor(`file:../${tarball}`)),
    );
    await run('npm', ['ci', '--offline', '--no-audit', '--no-fund', '--loglevel=error'], {
      cwd: project,
    });
  }, 180_000);

  afterAll(async () => {
    for (const child of children) {
      try {
        process.kill(-(child.pid as number), 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await rm(dir, { recursive: true, force: true });
  });

  const npx = (args: string[], env: Record<string, string> = {}) =>
    run('npx', ['--no-install', 'ebbflow', ...args], {
      cwd: project,
      env: { ...process.env, NO_COLOR: '1', ...env },
    });

  it('Should ship JavaScript, types and the worker sources, and import without a loader', async () => {
    const { stdout } = await run(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        "const [a, b, c] = await Promise.all([import('ebbflow'), import('ebbflow/api'), import('ebbflow/hosts')]); console.log(typeof a.createRuntime, typeof b.createApp, typeof c.folderSource)",
      ],
      { cwd: project },
    );
    expect(stdout.trim()).toBe('function function function');
    const installed = join(project, 'node_modules', 'ebbflow');
    expect(await readFile(join(installed, 'dist/types/runtime/index.d.ts'), 'utf8')).toContain(
      'createRuntime',
    );
    expect(await readFile(join(installed, 'runtime/host/node-worker-entry.ts'), 'utf8')).toContain(
      'serveWorker',
    );
  });

  it('Should serve ./functions, deploy a function with the CLI, and invoke it', async () => {
    const server = spawn(
      'npx',
      ['--no-install', 'ebbflow', 'serve', './functions', '--port', '0'],
      {
        cwd: project,
        env: { ...process.env, EBBFLOW_ADMIN_TOKEN: 'pkg-admin', NO_COLOR: '1' },
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true,
      },
    );
    children.push(server);
    let output = '';
    server.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    server.stderr?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    await until(() => /listening on http/.test(output), 60_000);
    const url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output)?.[1] as string;
    await writeFile(
      join(project, 'hello.ts'),
      'export default (name: string): string => "hello " + name;\n',
    );
    const deployed = await npx(['deploy', 'hello.ts', '--url', url], {
      EBBFLOW_ADMIN_TOKEN: 'pkg-admin',
    });
    expect(deployed.stdout).toMatch(/^deployed hello version 1 \(sha256 [0-9a-f]{12}, \d+ bytes\)/);
    const invoked = await npx(['invoke', 'hello', 'Ada', '--url', url]);
    expect(invoked.stdout.trim()).toBe('"hello Ada"');
    // The dashboard's files ship too.
    const page = await fetch(`${url}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<html');
    expect(await readFile(join(project, 'functions', 'hello.ts'), 'utf8')).toContain('hello');
  }, 120_000);
});

/**
 * A lock for a project that depends only on the tarball: the repository's own lock, minus its
 * development packages, so every dependency resolves to what the npm cache holds.
 */
const lockFor = (tarball: string) => {
  const lock = json('package-lock.json');
  const pkg = json('package.json');
  const packages: Record<string, unknown> = {
    '': { name: 'project', dependencies: { ebbflow: tarball } },
    'node_modules/ebbflow': {
      version: pkg.version,
      resolved: tarball,
      license: pkg.license,
      dependencies: pkg.dependencies,
      bin: pkg.bin,
      engines: pkg.engines,
    },
  };
  for (const [path, entry] of Object.entries(lock.packages as Record<string, { dev?: boolean }>)) {
    if (path.startsWith('node_modules/') && !entry.dev) packages[path] = entry;
  }
  return { name: 'project', lockfileVersion: 3, requires: true, packages };
};
