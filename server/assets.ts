/**
 * Reading the files the pages ship, for every host that has `node:fs` (Node, Deno, Bun): project
 * files from the folder above `api/`, package files from where the project resolves packages.
 * @module
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AssetReader } from '../api/assets.ts';

/**
 * The project's folder: the nearest one above this module that holds the pages, so the same code
 * works from the sources (`server/`) and from the package's bundles (`dist/`).
 */
const findRoot = (): string => {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let up = 0; up < 6; up++) {
    dir = dirname(dir);
    if (holdsPages(dir)) return dir;
  }
  return fileURLToPath(new URL('../', import.meta.url));
};

// Deno throws (rather than answering false) for a folder it may not read.
const holdsPages = (dir: string): boolean => {
  try {
    return existsSync(join(dir, 'api/pages/dashboard.html'));
  } catch {
    return false;
  }
};
const ROOT = findRoot();
const resolver = createRequire(join(ROOT, 'package.json'));

const locate = (file: string): string => {
  if (file.startsWith('./')) return join(ROOT, file);
  const parts = file.split('/');
  const size = file.startsWith('@') ? 2 : 1;
  const name = parts.slice(0, size).join('/');
  return join(dirname(resolver.resolve(`${name}/package.json`)), ...parts.slice(size));
};

/** Files are read once and kept: they never change while the server runs. */
const cache = new Map<string, Promise<Uint8Array | undefined>>();

export const readAsset: AssetReader = (file) => {
  let found = cache.get(file);
  if (!found) {
    found = readFile(locate(file)).then(
      (bytes) => new Uint8Array(bytes),
      () => undefined,
    );
    cache.set(file, found);
  }
  return found;
};
