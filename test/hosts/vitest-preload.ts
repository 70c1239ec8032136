/**
 * Bun: `bun --preload ./test/hosts/vitest-preload.ts <script>` resolves `vitest` to the shim, so
 * a suite written for vitest runs under Bun's own runtime.
 */
const Bun = (globalThis as unknown as { Bun: { plugin(plugin: unknown): void } }).Bun;
const shim = new URL('./vitest-shim.ts', import.meta.url).pathname;

Bun.plugin({
  name: 'vitest on Bun',
  setup(build: { onResolve(options: { filter: RegExp }, resolve: () => { path: string }): void }) {
    build.onResolve({ filter: /^vitest$/ }, () => ({ path: shim }));
  },
});
