/**
 * The package's entry points: `dist/<name>.js` built from each source, exported as the key says.
 * package.json `exports` and deno.json `exports` follow this table (test/package.test.ts).
 */
export const ENTRIES = {
  '.': { dist: 'index', source: 'runtime/index.ts' },
  './hosts': { dist: 'hosts', source: 'runtime/host/public.ts' },
  './api': { dist: 'api', source: 'api/index.ts' },
  './server': { dist: 'server', source: 'server/index.ts' },
  /** The typed client (the browser helper's); built once it exists. */
  './client': { dist: 'client', source: 'client/index.ts' },
} as const;

/** The `ebbflow` binary. */
export const BIN = { dist: 'cli', source: 'cli/main.ts' } as const;
