/**
 * An ebbflow runtime over some of the bench fixtures in bench/functions, through the public
 * in-process API and the real Node host (esbuild bundles, worker_threads).
 */
import { fileURLToPath } from 'node:url';
import { folderSource } from '../../runtime/host/fs-source.ts';
import { nodeHost } from '../../runtime/host/node.ts';
import type { FunctionSource, Runtime, RuntimeOptions } from '../../runtime/index.ts';
import { createRuntime } from '../../runtime/index.ts';

export const FIXTURES = fileURLToPath(new URL('../functions/', import.meta.url));

/** The fixtures folder, limited to `names`, so no other fixture spawns workers. */
const onlySource = (names: string[]): FunctionSource => {
  const folder = folderSource(FIXTURES);
  return {
    async list() {
      const listing = await folder.list();
      return { ...listing, entries: listing.entries.filter((e) => names.includes(e.name)) };
    },
  };
};

export const fixtureRuntime = (
  names: string[],
  options: Omit<RuntimeOptions, 'source' | 'host'> = {},
): Promise<Runtime> =>
  createRuntime({ source: onlySource(names), host: nodeHost(), log: () => {}, ...options });
