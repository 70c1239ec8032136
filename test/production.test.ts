/**
 * docs/production.md's files, run as far as this machine allows (no Docker engine here): each
 * file shown in the guide is the one in docs/production/; the Dockerfile read for what it must
 * do; compose.yaml parsed, its Redis command run with a server on its environment; the systemd
 * unit through `systemd-analyze verify`; the nginx site in Debian's nginx with a self-signed
 * certificate in front of a real server; the backup commands run and restored from. (The
 * Dockerfile's CMD and HEALTHCHECK and the unit's ExecStart run against the packed package in
 * test/package.test.ts.) Where a Debian tool is missing, its tests skip with one line naming it,
 * unless CI.
 */
import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { REDIS_MISSING } from './support/redis.ts';
import { client, type Json, NODE, ROOT, type Server, startServer } from './support/server.ts';
import { until } from './support/wait.ts';

const run = promisify(execFile);
const PRODUCTION = join(ROOT, 'docs/production');
const file = (name: string) => readFile(join(PRODUCTION, name), 'utf8');

/** Why a Debian tool's tests cannot run here (printed once), or undefined; never on CI. */
const missing = (command: string, args: string[], pkg: string): string | undefined => {
  if (process.env.CI) return undefined;
  if (spawnSync(command, args, { stdio: 'ignore' }).error === undefined) return undefined;
  const why = `${command} tests skipped: not installed here (apt-get install ${pkg})`;
  console.warn(why);
  return why;
};
const NO_NGINX = missing('nginx', ['-v'], 'nginx');
const NO_SYSTEMD = missing('systemd-analyze', ['--version'], 'systemd');
const NO_SQLITE = missing('sqlite3', ['-version'], 'sqlite3');

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });

/** The Dockerfile's instructions, continuation lines joined, comments dropped. */
const instructions = (text: string): { op: string; args: string }[] =>
  text
    .replace(/\\\n\s*/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const space = line.indexOf(' ');
      return { op: line.slice(0, space).toUpperCase(), args: line.slice(space + 1).trim() };
    });

describe('the production guide', () => {
  it('Should show every file of docs/production/ exactly as it is', async () => {
    const guide = await readFile(join(ROOT, 'docs/production.md'), 'utf8');
    const blocks = (fence: string) =>
      [...guide.matchAll(new RegExp(`\`\`\`${fence}\\n([\\s\\S]*?)\`\`\``, 'g'))].map((m) => m[1]);
    for (const [fence, name] of [
      ['dockerfile', 'Dockerfile'],
      ['yaml', 'compose.yaml'],
      ['ini', 'ebbflow.service'],
      ['nginx', 'nginx.conf'],
    ] as const) {
      expect(blocks(fence), name).toEqual([await file(name)]);
    }
  });

  it('Should build an image that runs node as PID 1, unprivileged, stops by SIGTERM and checks /ready', async () => {
    const steps = instructions(await file('Dockerfile'));
    const stages = steps.filter((s) => s.op === 'FROM').map((s) => s.args);
    expect(stages).toEqual(['node:20-alpine AS deps', 'node:20-alpine']);
    const final = steps.slice(steps.findLastIndex((s) => s.op === 'FROM'));
    // Production dependencies only, in the first stage; the final one copies node_modules.
    expect(steps.find((s) => s.op === 'RUN' && s.args.includes('npm ci'))?.args).toContain(
      '--omit=dev',
    );
    expect(final.some((s) => s.op === 'RUN' && s.args.includes('npm'))).toBe(false);
    const user = final.findIndex((s) => s.op === 'USER');
    const cmd = final.findIndex((s) => s.op === 'CMD');
    expect(final[user]?.args).toBe('node');
    expect(user).toBeLessThan(cmd);
    // Exec form, node itself: docker stop's SIGTERM reaches ebbflow's launcher (which passes it on
    // to the server), not npm or a shell.
    const command = JSON.parse(final[cmd]?.args as string) as string[];
    expect(command[0]).toBe('node');
    expect(command.join(' ')).not.toMatch(/\b(npm|npx|sh)\b/);
    expect(final.find((s) => s.op === 'STOPSIGNAL')?.args).toBe('SIGTERM');
    const health = final.find((s) => s.op === 'HEALTHCHECK')?.args as string;
    expect(health).toMatch(
      /^--interval=\S+ --timeout=\S+ --start-period=\S+ --retries=\d+\s+CMD \[/,
    );
    expect(health).toContain("/ready'");
    const env = final.find((s) => s.op === 'ENV')?.args as string;
    const port = /PORT=(\d+)/.exec(env)?.[1];
    expect(final.find((s) => s.op === 'EXPOSE')?.args).toBe(port);
    expect(env).toMatch(/HOST=0\.0\.0\.0/);
  });
});

describe('compose.yaml', () => {
  let compose: Json;
  beforeAll(async () => {
    compose = parseYaml(await file('compose.yaml'));
  });

  it('Should wait for a healthy Redis, keep tokens out of the file, and outwait the drain', () => {
    const app = compose.services.ebbflow;
    expect(app.environment.EBBFLOW_REDIS_URL).toBe('redis://redis:6379');
    expect(app.depends_on.redis.condition).toBe('service_healthy');
    expect(compose.services.redis.healthcheck.test).toEqual(['CMD', 'redis-cli', 'ping']);
    expect(Number.parseInt(app.stop_grace_period, 10)).toBeGreaterThan(30);
    expect(app.ports.every((p: string) => p.startsWith('127.0.0.1:'))).toBe(true);
    expect(app.env_file).toBe('ebbflow.env');
    expect(JSON.stringify(app.environment)).not.toMatch(/TOKEN/);
    expect(app.volumes).toEqual(['functions:/app/functions', 'data:/app/data']);
  });

  it.skipIf(REDIS_MISSING !== undefined)(
    'Should run its Redis command, and a server on its environment that runs tasks through it',
    async () => {
      const dir = await mkdtemp(join(tmpdir(), 'ebbflow-compose-'));
      const port = await freePort();
      const [command, ...args] = compose.services.redis.command as string[];
      const redis = spawn(
        command as string,
        [...args, '--port', String(port), '--bind', '127.0.0.1', '--dir', dir],
        { stdio: 'ignore' },
      );
      let server: Server | undefined;
      try {
        await mkdir(join(dir, 'functions'));
        await writeFile(join(dir, 'functions/twice.ts'), 'export default (n: number) => n * 2;\n');
        const env = compose.services.ebbflow.environment as Record<string, string>;
        server = await startServer(NODE, {
          ...env,
          EBBFLOW_REDIS_URL: (env.EBBFLOW_REDIS_URL as string).replace(
            'redis:6379',
            `127.0.0.1:${port}`,
          ),
          EBBFLOW_FUNCTIONS: join(dir, 'functions'),
          EBBFLOW_MIN_WORKERS: '0',
        });
        const api = client(server.url);
        expect((await api.post('/functions/twice/invoke', { args: [21] })).body.result).toBe(42);
        expect((await api.get('/stats')).body.cluster.servers).toHaveLength(1);
        // appendonly yes: Redis writes what it accepts to its file.
        await until(
          async () =>
            (
              await readFile(join(dir, 'appendonlydir/appendonly.aof.1.incr.aof'), 'utf8').catch(
                () => '',
              )
            ).length > 0,
          20_000,
        );
      } finally {
        await server?.stop();
        redis.kill('SIGKILL');
        await rm(dir, { recursive: true, force: true });
      }
    },
    120_000,
  );
});

describe('the systemd unit', () => {
  it('Should stop with SIGTERM to the launcher alone and wait longer than the drain', async () => {
    const unit = await file('ebbflow.service');
    const value = (key: string) => new RegExp(`^${key}=(.*)$`, 'm').exec(unit)?.[1];
    expect(value('KillSignal')).toBe('SIGTERM');
    expect(value('KillMode')).toBe('mixed');
    expect(Number(value('TimeoutStopSec'))).toBeGreaterThan(30);
    expect(value('User')).not.toBe('root');
    expect(value('ExecStart')).toMatch(/^\/usr\/bin\/node \S+\/dist\/cli\.js serve /);
    expect(value('EnvironmentFile')).toBe('/etc/ebbflow/ebbflow.env');
  });

  it.skipIf(NO_SYSTEMD !== undefined)('Should pass systemd-analyze verify', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ebbflow-unit-'));
    try {
      await writeFile(join(dir, 'ebbflow.service'), await file('ebbflow.service'));
      const { stderr } = await run('systemd-analyze', ['verify', join(dir, 'ebbflow.service')]);
      expect(stderr.split('\n').filter((line) => line.includes('ebbflow.service'))).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe.skipIf(NO_NGINX !== undefined)('nginx in front (Debian nginx, self-signed TLS)', () => {
  const NAME = 'functions.example.com';
  let dir: string;
  let server: Server;
  let nginx: ChildProcess;
  let https: number;
  let http: number;
  let cert: string;

  /** An HTTPS request through nginx, to 127.0.0.1 under the site's name. */
  const call = (
    method: string,
    path: string,
    { body, headers = {} }: { body?: string; headers?: Record<string, string> } = {},
    onData?: (chunk: string, done: () => void) => void,
  ) =>
    new Promise<{ status: number; headers: Record<string, unknown>; text: string }>(
      (resolve, reject) => {
        const req = httpsRequest(
          { host: '127.0.0.1', port: https, servername: NAME, ca: cert, method, path, headers },
          (res) => {
            let text = '';
            const done = () => {
              res.destroy();
              resolve({ status: res.statusCode ?? 0, headers: res.headers, text });
            };
            res.on('data', (chunk: Buffer) => {
              text += chunk.toString();
              onData?.(text, done);
            });
            res.on('end', done);
          },
        );
        req.on('error', reject);
        req.end(body);
      },
    );

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ebbflow-nginx-'));
    await mkdir(join(dir, 'functions'));
    await writeFile(
      join(dir, 'functions/nap.ts'),
      'export default async (ms: number) => { await new Promise((r) => setTimeout(r, ms)); return ms; };\n',
    );
    server = await startServer(NODE, {
      EBBFLOW_FUNCTIONS: join(dir, 'functions'),
      EBBFLOW_TOKEN: 'proxy-invoke',
      EBBFLOW_ADMIN_TOKEN: 'proxy-admin',
      // Above nginx's own default of 1 MiB: the site's client_max_body_size decides.
      EBBFLOW_MAX_FUNCTION_BYTES: '1900000',
      EBBFLOW_MIN_WORKERS: '1',
    });
    await run('openssl', [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-subj',
      `/CN=${NAME}`,
      '-addext',
      `subjectAltName=DNS:${NAME}`,
      '-keyout',
      join(dir, 'key.pem'),
      '-out',
      join(dir, 'cert.pem'),
    ]);
    cert = await readFile(join(dir, 'cert.pem'), 'utf8');
    [https, http] = [await freePort(), await freePort()];
    const upstream = new URL(server.url).port;
    const site = (await file('nginx.conf'))
      .replace('server 127.0.0.1:8787;', `server 127.0.0.1:${upstream};`)
      .replace('listen 80;', `listen 127.0.0.1:${http};`)
      .replace('listen 443 ssl http2;', `listen 127.0.0.1:${https} ssl http2;`)
      .replace(`/etc/letsencrypt/live/${NAME}/fullchain.pem`, join(dir, 'cert.pem'))
      .replace(`/etc/letsencrypt/live/${NAME}/privkey.pem`, join(dir, 'key.pem'));
    await writeFile(join(dir, 'site.conf'), site);
    const temp = (name: string) => `${name}_temp_path ${join(dir, name)};`;
    await writeFile(
      join(dir, 'nginx.conf'),
      [
        process.getuid?.() === 0 ? 'user root;' : '',
        'daemon off;',
        'worker_processes 1;',
        `pid ${join(dir, 'nginx.pid')};`,
        `error_log ${join(dir, 'error.log')} warn;`,
        'events { worker_connections 64; }',
        'http {',
        '  access_log off;',
        `  ${['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map(temp).join(' ')}`,
        `  include ${join(dir, 'site.conf')};`,
        '}',
      ].join('\n'),
    );
    await run('nginx', ['-t', '-p', dir, '-c', join(dir, 'nginx.conf')]);
    nginx = spawn('nginx', ['-p', dir, '-c', join(dir, 'nginx.conf')], { stdio: 'ignore' });
    await until(async () => (await call('GET', '/health').catch(() => undefined))?.status === 200);
  }, 120_000);

  afterAll(async () => {
    nginx?.kill('SIGQUIT');
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  }, 60_000);

  it('Should redirect plain HTTP to HTTPS', async () => {
    const res = await new Promise<IncomingMessage>((resolve, reject) =>
      httpRequest({ host: '127.0.0.1', port: http, path: '/functions', headers: { Host: NAME } })
        .on('response', resolve)
        .on('error', reject)
        .end(),
    );
    res.resume();
    expect(res.statusCode).toBe(301);
    expect(res.headers.location).toBe(`https://${NAME}/functions`);
  });

  it('Should pass requests and the token through TLS', async () => {
    expect(JSON.parse((await call('GET', '/health')).text)).toEqual({ status: 'ok' });
    expect((await call('GET', '/functions')).status).toBe(401);
    const invoked = await call('POST', '/functions/nap/invoke', {
      body: '{"args":[1]}',
      headers: { Authorization: 'Bearer proxy-invoke' },
    });
    expect(invoked.status).toBe(200);
    expect(JSON.parse(invoked.text)).toMatchObject({ status: 'completed', result: 1 });
  });

  it('Should take a deploy larger than nginx’s default body limit of 1 MiB', async () => {
    const source = `export default () => ${JSON.stringify('x'.repeat(1_200_000))}.length;\n`;
    const deployed = await call('PUT', '/functions/large', {
      body: source,
      headers: {
        Authorization: 'Bearer proxy-admin',
        'Content-Type': 'application/javascript',
      },
    });
    expect(deployed.status, deployed.text).toBe(201);
  }, 60_000);

  it('Should pass an event stream on as it happens, not when it ends', async () => {
    const submitted = await call('POST', '/functions/nap/tasks', {
      body: '{"args":[4000]}',
      headers: { Authorization: 'Bearer proxy-invoke' },
    });
    const id = JSON.parse(submitted.text).id as string;
    const first = await call(
      'GET',
      `/tasks/${id}`,
      { headers: { Authorization: 'Bearer proxy-invoke', Accept: 'text/event-stream' } },
      (text, done) => {
        if (text.includes('\n\n')) done();
      },
    );
    expect(first.headers['content-type']).toContain('text/event-stream');
    expect(first.text).toMatch(/"status":"(queued|running)"/);
    // It came while the 4 s task still ran: the proxy did not hold it back until the end.
    const now = await client(server.url, { Authorization: 'Bearer proxy-invoke' }).get(
      `/tasks/${id}`,
    );
    expect(now.body.status).not.toBe('completed');
  }, 60_000);
});

describe('backups', () => {
  it('Should restore a tar of a serving folder to the same versions and rollback history', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ebbflow-backup-'));
    const admin = { Authorization: 'Bearer backup-admin' };
    let server: Server | undefined;
    try {
      await mkdir(join(dir, 'srv/functions'), { recursive: true });
      const env = (folder: string) => ({
        EBBFLOW_FUNCTIONS: folder,
        EBBFLOW_ADMIN_TOKEN: 'backup-admin',
        EBBFLOW_MIN_WORKERS: '0',
      });
      server = await startServer(NODE, env(join(dir, 'srv/functions')));
      for (const answer of ['one', 'two']) {
        const res = await fetch(`${server.url}/functions/kept`, {
          method: 'PUT',
          headers: { ...admin, 'Content-Type': 'application/typescript' },
          body: `export default () => '${answer}';\n`,
        });
        expect(res.ok).toBe(true);
      }
      // The guide's command, while the server runs.
      await run('tar', ['-C', join(dir, 'srv'), '-czf', join(dir, 'functions.tgz'), 'functions']);
      await server.stop();
      server = undefined;
      await mkdir(join(dir, 'restored'));
      await run('tar', ['-C', join(dir, 'restored'), '-xzf', join(dir, 'functions.tgz')]);
      server = await startServer(NODE, env(join(dir, 'restored/functions')));
      const restored = client(server.url, admin);
      expect((await restored.get('/functions/kept')).body.version).toBe(2);
      const versions = (await restored.get('/functions/kept/versions')).body.versions as Json[];
      expect(versions.map((v) => v.version)).toEqual([2, 1]);
      expect((await restored.post('/functions/kept/rollback')).body.version).toBe(1);
      expect((await restored.post('/functions/kept/invoke')).body.result).toBe('one');
    } finally {
      await server?.stop();
      await rm(dir, { recursive: true, force: true });
    }
  }, 180_000);

  it.skipIf(NO_SQLITE !== undefined)(
    "Should copy a live SQLite file with sqlite3's .backup",
    async () => {
      const dir = await mkdtemp(join(tmpdir(), 'ebbflow-sqlite-'));
      try {
        const db = join(dir, 'tasks.db');
        await run('sqlite3', [db, 'CREATE TABLE t (x); INSERT INTO t VALUES (1), (2);']);
        // The guide's line, with its paths moved here.
        await run('sqlite3', [db, `.backup '${join(dir, 'copy.db')}'`]);
        const { stdout } = await run('sqlite3', [join(dir, 'copy.db'), 'SELECT count(*) FROM t;']);
        expect(stdout.trim()).toBe('2');
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
  );
});
