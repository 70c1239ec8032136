/**
 * The import rules of the design, checked on every file: the core is portable (only
 * `runtime/host/` touches a host, and the core sees it through `host/types.ts` alone), the API
 * depends on the runtime and never the reverse, worker code imports no pool code, only the
 * serve entries pick a host, and what the Workers entry bundles stays free of Node APIs.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));

const sources = (folder: string): string[] =>
  readdirSync(join(root, folder), { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.ts') && !file.endsWith('.test.ts'))
    .map((file) => join(folder, file));

/** Every module a file imports or re-exports, relative ones resolved to project paths. */
const importsOf = (file: string): string[] => {
  const text = readFileSync(join(root, file), 'utf8');
  const found = [...text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^'"]*?from\s+'([^']+)'/g)].map(
    (m) => m[1] as string,
  );
  return found.map((spec) =>
    spec.startsWith('.') ? relative(root, resolve(root, dirname(file), spec)) : spec,
  );
};

const HOST_APIS =
  /^(node:|deno|bun|esbuild|@hono\/node-server|cloudflare:|@cloudflare\/|wrangler|miniflare)/;

/** Every project file `entry` reaches through its imports (itself included). */
const reachable = (entry: string): string[] => {
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const spec of importsOf(file)) if (/^(runtime|api)\/.*\.ts$/.test(spec)) visit(spec);
  };
  visit(entry);
  return [...seen];
};

const offenders = (files: string[], bad: (spec: string) => boolean) =>
  files.flatMap((file) =>
    importsOf(file)
      .filter(bad)
      .map((spec) => `${file} imports ${spec}`),
  );

describe('architecture', () => {
  const core = sources('runtime').filter((f) => !f.startsWith('runtime/host/'));

  it('Should keep the core portable: no host API, and host/ only through host/types.ts', () => {
    expect(core.length).toBeGreaterThan(10);
    expect(
      offenders(
        core,
        (s) =>
          HOST_APIS.test(s) || (s.startsWith('runtime/host/') && s !== 'runtime/host/types.ts'),
      ),
    ).toEqual([]);
  });

  it('Should keep the in-process host on Web-standard APIs (the edge build runs it)', () => {
    const file = 'runtime/host/in-process.ts';
    expect(importsOf(file).length).toBeGreaterThan(0);
    expect(offenders([file], (s) => HOST_APIS.test(s))).toEqual([]);
  });

  it('Should never let the runtime import the API', () => {
    expect(offenders(sources('runtime'), (s) => s.startsWith('api/'))).toEqual([]);
  });

  it('Should keep code that runs inside a worker free of pool code', () => {
    const worker = sources('runtime/worker');
    expect(
      offenders(worker, (s) => s.startsWith('runtime/') && !s.startsWith('runtime/worker/')),
    ).toEqual([]);
  });

  it('Should let only the serve entries choose a host', () => {
    const api = sources('api').filter((f) => !f.startsWith('api/serve/'));
    expect(offenders(api, (s) => HOST_APIS.test(s) || s.startsWith('runtime/host/'))).toEqual([]);
  });

  it('Should let only the Redis adapter import bullmq or ioredis', () => {
    const everything = ['runtime', 'api', 'bench', 'test'].flatMap(sources);
    const redisClients = /^(bullmq|ioredis)(\/|$)/;
    expect(
      offenders(
        everything.filter((f) => !f.startsWith('runtime/host/redis/')),
        (s) => redisClients.test(s),
      ),
    ).toEqual([]);
    expect(
      offenders(everything, (s) => s.startsWith('runtime/host/redis/')).filter(
        (line) => !line.startsWith('runtime/host/redis/'),
      ),
    ).toEqual([]);
  });

  it('Should keep the Workers bundle free of Node, bundler and wrangler imports', () => {
    const bundled = reachable('api/serve/workers.ts');
    expect(bundled).toContain('runtime/host/workerd/task-object.ts');
    expect(
      offenders(bundled, (s) => /^(node:|esbuild|wrangler|miniflare|@hono\/node-server)/.test(s)),
    ).toEqual([]);
  });

  it('Should keep the Workers host in runtime/host/workerd/ and its entries in api/serve/', () => {
    const touching = [...sources('runtime'), ...sources('api')].filter((file) =>
      importsOf(file).some((s) => /^(cloudflare:|@cloudflare\/|wrangler)/.test(s)),
    );
    expect(touching.length).toBeGreaterThan(3);
    expect(
      touching.filter(
        (f) => !f.startsWith('runtime/host/workerd/') && !f.startsWith('api/serve/workers'),
      ),
    ).toEqual([]);
  });

  it('Should load nothing Redis-related from a serve entry unless EBBFLOW_REDIS_URL asks for it', () => {
    // Static imports only: the cluster backend is reached by a dynamic import() behind the setting.
    const seen = new Set<string>();
    const visit = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      for (const spec of importsOf(file)) {
        if (spec.endsWith('.ts') && existsSync(join(root, spec))) visit(spec);
        else seen.add(spec);
      }
    };
    for (const entry of sources('api/serve')) visit(entry);
    expect([...seen].filter((s) => /^(bullmq|ioredis)|runtime\/host\/redis\//.test(s))).toEqual([]);
  });

  it('Should keep the client standalone: fetch only, nothing of the server, no host API', () => {
    const client = sources('client');
    expect(client.length).toBeGreaterThan(2);
    expect(offenders(client, (s) => !s.startsWith('client/') || HOST_APIS.test(s))).toEqual([]);
  });

  it('Should keep example functions free of ebbflow code', () => {
    expect(
      offenders(sources('functions'), (s) => s.startsWith('runtime/') || s.startsWith('api/')),
    ).toEqual([]);
  });
});
