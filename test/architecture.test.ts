/**
 * The import rules of the design (ARCHITECTURE.md), checked on every file:
 * `server -> api -> runtime`, `edge -> api | runtime`, adapters (`runtime/host/`, the Redis
 * backend) -> core and never the reverse, worker code imports no pool code, only the server's
 * entries pick a host, what the Workers entry bundles stays free of Node APIs, and no import
 * cycle anywhere.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));

const sources = (folder: string): string[] =>
  readdirSync(join(root, folder), { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.ts') && !file.endsWith('.test.ts') && !file.endsWith('.d.ts'))
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

/** Code that adapts the core to one host or one store: the core never imports it. */
const ADAPTERS = ['runtime/host/', 'runtime/backend/redis/'];
const isAdapter = (file: string) => ADAPTERS.some((folder) => file.startsWith(folder));

/** Every project file `entry` reaches through its imports (itself included). */
const reachable = (entry: string): string[] => {
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const spec of importsOf(file))
      if (/^(runtime|api|edge|server)\/.*\.ts$/.test(spec)) visit(spec);
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

/** The import cycles of a graph (its strongly connected components of more than one file). */
const cyclesIn = (graph: Map<string, string[]>): string[][] => {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  let next = 0;
  const connect = (file: string) => {
    index.set(file, next);
    low.set(file, next);
    next++;
    stack.push(file);
    onStack.add(file);
    for (const to of graph.get(file) ?? []) {
      if (!graph.has(to)) continue;
      if (!index.has(to)) {
        connect(to);
        low.set(file, Math.min(low.get(file) as number, low.get(to) as number));
      } else if (onStack.has(to)) {
        low.set(file, Math.min(low.get(file) as number, index.get(to) as number));
      }
    }
    if (low.get(file) !== index.get(file)) return;
    const component: string[] = [];
    for (let top = stack.pop(); top !== undefined; top = stack.pop()) {
      onStack.delete(top);
      component.push(top);
      if (top === file) break;
    }
    if (component.length > 1) cycles.push(component.sort());
  };
  for (const file of graph.keys()) if (!index.has(file)) connect(file);
  return cycles;
};

const TOP_LEVEL = ['runtime', 'api', 'server', 'edge', 'cli', 'client', 'functions'];

describe('architecture', () => {
  const runtime = sources('runtime');
  const core = runtime.filter((f) => !isAdapter(f));

  it('Should keep the core portable: no host API and no adapter imported', () => {
    expect(core.length).toBeGreaterThan(40);
    expect(offenders(core, (s) => HOST_APIS.test(s) || isAdapter(s))).toEqual([]);
  });

  it('Should let adapters depend on the core, never on another adapter or anything above', () => {
    for (const folder of ADAPTERS) {
      const adapter = sources(folder);
      expect(adapter.length).toBeGreaterThan(4);
      expect(
        offenders(
          adapter,
          (s) =>
            /^(api|server|edge|cli|client)\//.test(s) || (isAdapter(s) && !s.startsWith(folder)),
        ),
      ).toEqual([]);
    }
  });

  it('Should keep the in-process host on Web-standard APIs (the edge build runs it)', () => {
    const file = 'runtime/host/in-process.ts';
    expect(importsOf(file).length).toBeGreaterThan(0);
    expect(offenders([file], (s) => HOST_APIS.test(s))).toEqual([]);
  });

  it('Should never let the runtime import anything above it', () => {
    expect(offenders(runtime, (s) => /^(api|server|edge|cli|client)\//.test(s))).toEqual([]);
  });

  it('Should keep code that runs inside a worker free of pool code', () => {
    const worker = sources('runtime/worker');
    expect(worker.length).toBeGreaterThan(3);
    expect(
      offenders(worker, (s) => s.startsWith('runtime/') && !s.startsWith('runtime/worker/')),
    ).toEqual([]);
  });

  it('Should keep the API to the runtime: no host, no adapter, no server, no edge', () => {
    const api = sources('api');
    expect(api.length).toBeGreaterThan(10);
    expect(
      offenders(
        api,
        (s) => HOST_APIS.test(s) || /^(server|edge|cli)\//.test(s) || s.startsWith('runtime/host/'),
      ),
    ).toEqual([]);
    // Through the runtime's public surface only.
    expect(offenders(api, (s) => s.startsWith('runtime/') && s !== 'runtime/index.ts')).toEqual([]);
  });

  it('Should let nothing but the CLI depend on the server, and the edge only on its settings table', () => {
    const below = ['runtime', 'api', 'client', 'functions'].flatMap(sources);
    expect(offenders(below, (s) => s.startsWith('server/'))).toEqual([]);
    expect(
      offenders(sources('edge'), (s) => s.startsWith('server/') && s !== 'server/settings.ts'),
    ).toEqual([]);
    // The settings table is read at the edge too: no host API in it.
    expect(offenders(['server/settings.ts'], (s) => HOST_APIS.test(s))).toEqual([]);
  });

  it('Should let only the Redis backend import bullmq or ioredis', () => {
    const everything = ['runtime', 'api', 'server', 'edge', 'bench', 'test'].flatMap(sources);
    const redisClients = /^(bullmq|ioredis)(\/|$)/;
    expect(
      offenders(
        everything.filter((f) => !f.startsWith('runtime/backend/redis/')),
        (s) => redisClients.test(s),
      ),
    ).toEqual([]);
  });

  it('Should keep the Workers bundle free of Node, bundler and wrangler imports', () => {
    const bundled = reachable('edge/worker.ts');
    expect(bundled).toContain('edge/task-object.ts');
    expect(
      offenders(bundled, (s) => /^(node:|esbuild|wrangler|miniflare|@hono\/node-server)/.test(s)),
    ).toEqual([]);
  });

  it('Should run the edge task table and the embedded store on one SQL module, no SQLite binding bundled', () => {
    const bundled = reachable('edge/worker.ts');
    expect(bundled).toContain('runtime/backend/sql/task-table.ts');
    expect(reachable('runtime/backend/sqlite/store.ts')).toContain(
      'runtime/backend/sql/task-table.ts',
    );
    // A host's binding is chosen by the server entry, never reached from the Worker.
    expect(bundled.filter((f) => f.startsWith('runtime/host/sqlite'))).toEqual([]);
  });

  it("Should keep the code that runs in a function's isolate to the worker-side helpers", () => {
    // edge/isolate/main.ts is built into every function's isolate: no pool, runtime core, API or
    // edge code may come along, only what every host's worker runs and the wire it speaks.
    const isolate = sources('edge/isolate');
    expect(isolate).toContain('edge/isolate/main.ts');
    expect(
      offenders(
        isolate,
        (s) =>
          /^(runtime|api|server|edge|cli|client)\//.test(s) &&
          !s.startsWith('runtime/worker/') &&
          !s.startsWith('edge/isolate/'),
      ),
    ).toEqual([]);
    // And the Worker does not bundle it: the build compiles it to text for the isolates.
    expect(reachable('edge/worker.ts')).not.toContain('edge/isolate/main.ts');
  });

  it('Should keep everything Cloudflare in edge/', () => {
    const everything = ['runtime', 'api', 'server', 'edge', 'cli', 'client'].flatMap(sources);
    const touching = everything.filter((file) =>
      importsOf(file).some((s) => /^(cloudflare:|@cloudflare\/|wrangler|miniflare)/.test(s)),
    );
    expect(touching.length).toBeGreaterThan(3);
    expect(touching.filter((f) => !f.startsWith('edge/'))).toEqual([]);
  });

  it('Should load nothing Redis-related from a server entry unless EBBFLOW_REDIS_URL asks for it', () => {
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
    const entries = sources('server');
    expect(entries).toContain('server/node.ts');
    for (const entry of entries) visit(entry);
    expect([...seen].filter((s) => /^(bullmq|ioredis)|runtime\/backend\/redis\//.test(s))).toEqual(
      [],
    );
  });

  it('Should keep the client standalone: fetch only, nothing of the server, no host API', () => {
    const client = sources('client');
    expect(client.length).toBeGreaterThan(2);
    expect(offenders(client, (s) => !s.startsWith('client/') || HOST_APIS.test(s))).toEqual([]);
  });

  it('Should keep example functions free of ebbflow code', () => {
    expect(
      offenders(sources('functions'), (s) => /^(runtime|api|server|edge|cli|client)\//.test(s)),
    ).toEqual([]);
  });

  it('Should have no import cycle anywhere', () => {
    // The finder itself: planted cycles (type-only imports count too) are found, a chain is not.
    const planted = new Map([
      ['a.ts', ['b.ts']],
      ['b.ts', ['c.ts']],
      ['c.ts', ['a.ts', 'd.ts']],
      ['d.ts', []],
      ['e.ts', ['e2.ts']],
      ['e2.ts', ['e.ts']],
    ]);
    expect(cyclesIn(planted)).toEqual([
      ['a.ts', 'b.ts', 'c.ts'],
      ['e.ts', 'e2.ts'],
    ]);
    const everything = [...TOP_LEVEL, 'bench', 'scripts', 'test'].flatMap(sources);
    expect(everything.length).toBeGreaterThan(150);
    const graph = new Map(
      everything.map((file) => [file, importsOf(file).filter((spec) => spec.endsWith('.ts'))]),
    );
    expect(cyclesIn(graph)).toEqual([]);
  });

  it('Should keep the runtime root to a dozen files, each subsystem in a folder', () => {
    const rootFiles = readdirSync(join(root, 'runtime')).filter((name) =>
      statSync(join(root, 'runtime', name)).isFile(),
    );
    expect(rootFiles.length).toBeLessThanOrEqual(12);
    expect(rootFiles).toContain('index.ts');
  });

  it('Should map every top-level and runtime folder in ARCHITECTURE.md', () => {
    const map = readFileSync(join(root, 'ARCHITECTURE.md'), 'utf8');
    const runtimeFolders = readdirSync(join(root, 'runtime')).filter((name) =>
      statSync(join(root, 'runtime', name)).isDirectory(),
    );
    expect(runtimeFolders.length).toBeGreaterThan(6);
    const topFolders = [...TOP_LEVEL, 'test', 'bench', 'docs', 'scripts'];
    expect(topFolders.filter((folder) => !map.includes(`\n${folder}/`))).toEqual([]);
    // Runtime folders: by their path, or indented under runtime/ in the layout's tree.
    expect(
      runtimeFolders.filter(
        (folder) => !map.includes(`runtime/${folder}/`) && !map.includes(`\n  ${folder}/ `),
      ),
    ).toEqual([]);
  });
});
