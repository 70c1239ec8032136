/**
 * The package as a new user gets it: `npm pack`, installed into a fresh project offline (the
 * project's lock is the repository's, so `npm ci --offline` takes every dependency from the npm
 * cache that `npm ci` filled), then the path docs/getting-started.md walks: `npx ebbflow init`,
 * `npx ebbflow serve`, invoke the example, deploy a change, roll it back, and stop the server
 * with a SIGTERM to `npx` (it drains and exits; nothing is left answering). README's in-process
 * example runs there as it is written. Also: package.json and deno.json export the same entry
 * points, and `npm publish --dry-run` has nothing to warn about.
 */
import { execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VERSION } from '../api/version.ts';
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
    expect(pkg.bin).toEqual({ ebbflow: `dist/${BIN.dist}.js` });
    expect(deno.name).toMatch(/^@[a-z0-9-]+\/ebbflow$/);
    expect(deno.version).toBe(pkg.version);
    // The version the CLI and the OpenAPI document show.
    expect(VERSION).toBe(pkg.version);
  });

  it('Should say where it lives and under which licence, and need no TypeScript loader to run', () => {
    expect(pkg.license).toBe('MIT');
    expect(readFileSync(join(ROOT, 'LICENSE'), 'utf8')).toMatch(/^MIT License\n/);
    const home = String(pkg.repository?.url)
      .replace(/^git\+/, '')
      .replace(/\.git$/, '');
    expect(home).toMatch(/^https:\/\/\S+\/ebbflow$/);
    expect(pkg.homepage).toBe(`${home}#readme`);
    expect(pkg.bugs?.url).toBe(`${home}/issues`);
    // dist/ is plain JavaScript: tsx is for this repository's scripts only.
    expect(pkg.dependencies.tsx).toBeUndefined();
    expect(pkg.devDependencies.tsx).toBeDefined();
  });
});

describe('the packed package in a fresh project', () => {
  let dir: string;
  let project: string;
  const children: Array<{ pid?: number }> = [];
  const ADMIN = 'pkg-admin';

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ebbflow-package-'));
    const { stdout } = await run('npm', ['pack', ROOT, '--pack-destination', dir, '--silent'], {
      cwd: dir,
    });
    const tarball = stdout.trim().split('\n').at(-1) as string;
    project = join(dir, 'project');
    await mkdir(project, { recursive: true });
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

  it('Should publish cleanly (npm publish --dry-run, to a closed loopback port: nothing leaves the machine)', async () => {
    const { stdout, stderr } = await run(
      'npm',
      [
        'publish',
        '--dry-run',
        '--json',
        // dist/ was built by the pack above (prepack): the same files, built once.
        '--ignore-scripts',
        // Its look-up of the published versions is refused at once, with no retry to wait for.
        '--fetch-retries=0',
        '--registry=http://127.0.0.1:9/',
        '--//127.0.0.1:9/:_authToken=dry-run',
      ],
      { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 },
    );
    expect(stderr.split('\n').filter((line) => /^npm (warn|error)/.test(line))).toEqual([]);
    // npm 11 keys the report by the package's name.
    const report = JSON.parse(stdout.slice(stdout.indexOf('{'))) as Record<
      string,
      { files: { path: string }[] }
    >;
    const files = (report.ebbflow?.files ?? []).map((f) => f.path);
    for (const file of ['LICENSE', 'README.md', 'package.json', 'dist/cli.js', 'dist/index.js']) {
      expect(files).toContain(file);
    }
    expect(files).toContain('runtime/host/node-worker-entry.ts');
    expect(files).toContain('docs/getting-started.md');
    expect(files.filter((f) => /\.test\.ts$|^test\//.test(f))).toEqual([]);
  }, 120_000);

  /**
   * A function deployed for a look at the environment of the process that runs it (then deleted):
   * every way a server is started here goes through the launcher, so `secret` is not there, and
   * the launcher's marker is (the function did read that environment).
   */
  const expectSecretHidden = async (url: string, secret: string) => {
    const admin = { Authorization: `Bearer ${ADMIN}` };
    const deployed = await fetch(`${url}/functions/peek`, {
      method: 'PUT',
      headers: { ...admin, 'Content-Type': 'application/typescript' },
      body: "import { readFileSync } from 'node:fs';\nexport default () => readFileSync('/proc/self/environ', 'utf8') + JSON.stringify(process.env);\n",
    });
    expect(deployed.status).toBe(201);
    const seen = (await (
      await fetch(`${url}/functions/peek/invoke`, { method: 'POST' })
    ).json()) as { status: string; result: string };
    expect(seen.status).toBe('completed');
    expect(seen.result).toContain('EBBFLOW_HANDED_ENV=stdin');
    expect(seen.result).not.toContain(secret);
    const deleted = await fetch(`${url}/functions/peek`, { method: 'DELETE', headers: admin });
    expect(deleted.status).toBe(200);
  };

  const npx = (args: string[], env: Record<string, string> = {}) =>
    run('npx', ['--no-install', 'ebbflow', ...args], {
      cwd: project,
      env: { ...process.env, EBBFLOW_ADMIN_TOKEN: ADMIN, ...env },
    });

  it('Should ship JavaScript, types and the worker sources, and import without a loader', async () => {
    const { stdout } = await run(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        "const [a, b, c, d] = await Promise.all([import('ebbflow'), import('ebbflow/api'), import('ebbflow/hosts'), import('ebbflow/server')]); console.log(typeof a.createRuntime, typeof b.createApp, typeof c.folderSource, typeof c.defaultHost, typeof d.parseSettings)",
      ],
      { cwd: project },
    );
    expect(stdout.trim()).toBe('function function function function function');
    const installed = join(project, 'node_modules', 'ebbflow');
    expect(await readFile(join(installed, 'dist/types/runtime/index.d.ts'), 'utf8')).toContain(
      'createRuntime',
    );
    expect(await readFile(join(installed, 'runtime/host/node-worker-entry.ts'), 'utf8')).toContain(
      'serveWorker',
    );
  });

  it('Should walk the getting-started path: init, serve, invoke, deploy, roll back, stop with SIGTERM to npx', async () => {
    const init = await npx(['init']);
    expect(init.stdout).toMatch(/^wrote functions\/hello\.ts\nwrote \.gitignore\n/);
    // npx, the way a person starts it; a SIGTERM goes to npx alone, as a process manager sends it.
    const server = spawn(
      'npx',
      ['--no-install', 'ebbflow', 'serve', './functions', '--port', '0'],
      {
        cwd: project,
        env: { ...process.env, EBBFLOW_ADMIN_TOKEN: ADMIN },
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
    const exited = new Promise<number | null>((resolve) => server.once('exit', resolve));
    await until(() => /listening on http/.test(output), 60_000);
    expect(output).toMatch(
      /listening on http:\/\/127\.0\.0\.1:\d+ \(Node [\d.]+\) with 1 function: hello\n/,
    );
    const url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output)?.[1] as string;
    const env = { EBBFLOW_URL: url };
    expect((await npx(['invoke', 'hello', 'Ada'], env)).stdout).toBe('"hello Ada"\n');
    await writeFile(
      join(project, 'hello.ts'),
      "export default (name: string): string => 'hi ' + name + ', from version 2';\n",
    );
    expect((await npx(['deploy', 'hello.ts'], env)).stdout).toMatch(
      /^updated hello version 2 \(sha256 [0-9a-f]{12}, \d+ bytes\)/,
    );
    expect((await npx(['invoke', 'hello', 'Ada'], env)).stdout).toBe('"hi Ada, from version 2"\n');
    expect((await npx(['rollback', 'hello'], env)).stdout).toMatch(
      /^rolled back hello to version 1 /,
    );
    expect((await npx(['invoke', 'hello', 'Ada'], env)).stdout).toBe('"hello Ada"\n');
    expect(await readFile(join(project, 'functions', 'hello.ts'), 'utf8')).not.toContain(
      'version 2',
    );
    // The dashboard's files ship too.
    const page = await fetch(`${url}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<html');
    await expectSecretHidden(url, ADMIN);
    // npm may end at once, its shell with it: the launcher, orphaned, notices and passes a
    // SIGTERM on. Either way the server drains on exactly one signal.
    process.kill(server.pid as number, 'SIGTERM');
    await exited;
    await until(() => output.includes('ebbflow: drained, bye'), 60_000);
    expect(output).toMatch(/ebbflow: SIGTERM: draining/);
    expect(output).not.toMatch(/SIGTERM again/);
    // Nothing of the group is left: no server behind npx still answering.
    await until(() => {
      try {
        process.kill(-(server.pid as number), 0);
        return false;
      } catch {
        return true;
      }
    }, 30_000);
    await expect(fetch(`${url}/health`)).rejects.toThrow();
  }, 180_000);

  /** Starts `command` in the project, reads its address, and gives a way to stop it. */
  const serveAs = async (command: string[], env: Record<string, string>) => {
    const [bin, ...args] = command as [string, ...string[]];
    const child = spawn(bin, args, {
      cwd: project,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    children.push(child);
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    await until(() => /listening on http/.test(output), 60_000);
    const url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output)?.[1] as string;
    return { child, url, exited, output: () => output };
  };

  it("Should serve as the Dockerfile's CMD and ENV start it, pass its HEALTHCHECK exactly when /ready is 200, and drain on docker stop's SIGTERM", async () => {
    const dockerfile = (await readFile(join(ROOT, 'docs/production/Dockerfile'), 'utf8')).replace(
      /\\\n\s*/g,
      ' ',
    );
    const final = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
    const env = Object.fromEntries(
      [...(/^ENV (.*)$/m.exec(final)?.[1] ?? '').matchAll(/(\w+)=(\S+)/g)].map((m) => [
        m[1] as string,
        m[2] as string,
      ]),
    );
    expect(Object.keys(env)).toEqual(
      expect.arrayContaining(['HOST', 'PORT', 'EBBFLOW_FUNCTIONS', 'EBBFLOW_DATA']),
    );
    const cmd = JSON.parse(/^CMD (.*)$/m.exec(final)?.[1] as string) as string[];
    const healthcheck = JSON.parse(/^HEALTHCHECK .*? CMD (\[.*\])$/m.exec(final)?.[1] as string);
    await writeFile(
      join(project, 'functions', 'nap.ts'),
      'export default async (ms: number) => { await new Promise((r) => setTimeout(r, ms)); return ms; };\n',
    );
    // The image's paths are this project's here, and it listens on loopback only.
    const server = await serveAs(cmd, {
      ...env,
      HOST: '127.0.0.1',
      PORT: '0',
      EBBFLOW_FUNCTIONS: join(project, 'functions'),
      EBBFLOW_DATA: join(dir, 'data', 'tasks.db'),
      // As `docker run --env-file ebbflow.env` passes it.
      EBBFLOW_ADMIN_TOKEN: ADMIN,
    });
    await expectSecretHidden(server.url, ADMIN);
    const port = new URL(server.url).port;
    const ready = await fetch(`${server.url}/ready`);
    const [node, ...args] = healthcheck as [string, ...string[]];
    const check = await run(node, args, { cwd: project, env: { ...process.env, PORT: port } }).then(
      () => 0,
      (error: { code?: number }) => error.code ?? 1,
    );
    if (ready.status === 404) {
      console.warn(
        'GET /ready is not served by this branch yet: the HEALTHCHECK fails until it is',
      );
    }
    expect(check).toBe(ready.status === 200 ? 0 : 1);
    // docker stop: SIGTERM to PID 1, the launcher, which passes it on. A running task finishes
    // first.
    const running = await fetch(`${server.url}/functions/nap/tasks`, {
      method: 'POST',
      body: '{"args":[1500]}',
    });
    const { id } = (await running.json()) as { id: string };
    await until(async () => {
      const record = (await (await fetch(`${server.url}/tasks/${id}`)).json()) as {
        status: string;
      };
      return record.status === 'running';
    }, 30_000);
    process.kill(server.child.pid as number, 'SIGTERM');
    expect(await server.exited).toBe(0);
    expect(server.output()).toMatch(/ebbflow: drained, bye/);
    // With the server gone, the healthcheck fails.
    const after = await run(node, args, { env: { ...process.env, PORT: port } }).then(
      () => 0,
      () => 1,
    );
    expect(after).toBe(1);
  }, 120_000);

  it("Should serve as the systemd unit's ExecStart and Environment start it, and stop by its KillSignal", async () => {
    const unit = await readFile(join(ROOT, 'docs/production/ebbflow.service'), 'utf8');
    const values = (key: string) =>
      [...unit.matchAll(new RegExp(`^${key}=(.*)$`, 'gm'))].map((m) => m[1] as string);
    const moved = (text: string) => text.replaceAll('/srv/ebbflow', project);
    const [exec, ...args] = moved(values('ExecStart')[0] as string).split(' ') as [
      string,
      ...string[],
    ];
    const env = Object.fromEntries(
      values('Environment').flatMap((line) =>
        line.split(' ').map((pair) => pair.split('=') as [string, string]),
      ),
    );
    expect(env.HOST).toBe('127.0.0.1');
    const server = await serveAs(
      // The unit names Debian's node; this test runs whichever node runs it.
      [exec === '/usr/bin/node' ? process.execPath : exec, ...args],
      {
        ...env,
        PORT: '0',
        EBBFLOW_DATA: join(dir, 'state', 'tasks.db'),
        EBBFLOW_ADMIN_TOKEN: ADMIN,
      },
    );
    expect(server.output()).toMatch(/with 2 functions: hello, nap/);
    await expectSecretHidden(server.url, ADMIN);
    const signal = values('KillSignal')[0] as NodeJS.Signals;
    process.kill(server.child.pid as number, signal);
    expect(await server.exited).toBe(0);
  }, 120_000);

  it("Should run README's in-process example as it is written", async () => {
    const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## Using the runtime in-process'));
    const example = /```ts\n([\s\S]*?)```/.exec(section)?.[1] as string;
    expect(example).toContain("from 'ebbflow/hosts'");
    await writeFile(join(project, 'embed.mjs'), example);
    const { stdout } = await run(process.execPath, ['embed.mjs'], { cwd: project });
    expect(stdout).toContain('hello Ada');
  }, 60_000);
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
