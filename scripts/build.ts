/**
 * `npm run build` (and `prepack`): the package's JavaScript in `dist/` and its types in
 * `dist/types/`, so a user needs no TypeScript loader. Each entry is one flat ESM bundle with
 * the dependencies left as imports. The worker entries stay TypeScript sources shipped beside
 * (`runtime/`): the Node host bundles its worker with each function at run time, Deno and Bun
 * load theirs natively; the bundles point at them from `dist/`.
 * @module
 */
import { execFileSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';
import { BIN, ENTRIES } from './entries.ts';

const root = fileURLToPath(new URL('..', import.meta.url));

/** `new URL('./x.ts', import.meta.url)` in runtime/host/ means runtime/host/x.ts from dist/. */
const workerEntries: Plugin = {
  name: 'ebbflow-worker-entries',
  setup(b) {
    b.onLoad({ filter: /[\\/]runtime[\\/]host[\\/][^\\/]+\.ts$/ }, async (args) => {
      const text = await readFile(args.path, 'utf8');
      return {
        contents: text.replaceAll("new URL('./", "new URL('../runtime/host/"),
        loader: 'ts',
      };
    });
  },
};

rmSync(join(root, 'dist'), { recursive: true, force: true });
const entryPoints = Object.fromEntries(
  [...Object.values(ENTRIES), BIN]
    .filter(({ source }) => existsSync(join(root, source)))
    .map(({ dist, source }) => [dist, source]),
);
await build({
  absWorkingDir: root,
  entryPoints,
  outdir: 'dist',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  packages: 'external',
  logLevel: 'warning',
  plugins: [workerEntries],
});
execFileSync(
  process.execPath,
  [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'],
  { cwd: root, stdio: 'inherit' },
);
console.log(`built dist/: ${Object.keys(entryPoints).join(', ')}`);
