/**
 * Function bundles kept on disk, so a restart skips esbuild: loading esbuild and its first build
 * took about 200 ms of a 2-core machine's start (import 114 ms, first build 82 ms, Node 20).
 *
 * A lookup is keyed by the sha256 of the function's source, its URL, esbuild's version and the
 * build options; the entry (`<key>.json`) lists every file the bundle was built from with its
 * sha256 (the worker's own code and packages included), and a hit needs all of them unchanged.
 * Bundles are stored by the sha256 of their content (`<sha>.mjs`), so a file never changes once
 * written; every write goes to a temporary name and is renamed into place, so servers sharing the
 * folder never read half a file. The folder is private to the user (0700, owned by them), since a
 * bundle runs as the server's code.
 * @module
 */
import { createHash, randomUUID } from 'node:crypto';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

/** Where bundles are kept unless the host is told otherwise: per user, under the OS temp dir. */
export const defaultCacheDir = (): string =>
  join(tmpdir(), `ebbflow-bundles-${process.getuid?.() ?? 'user'}`);

interface Entry {
  /** Absolute paths of the files the bundle was built from, with the sha256 of each. */
  inputs: Array<{ path: string; sha256: string }>;
  /** The bundle's file name in the cache folder. */
  bundle: string;
}

export const sha256 = (data: string | Uint8Array): string =>
  createHash('sha256').update(data).digest('hex');

export class BundleCache {
  readonly #dir: string;
  #ready: Promise<boolean> | undefined;

  constructor(dir: string) {
    this.#dir = dir;
  }

  /** The bundle stored under `key`, if every file it was built from is unchanged. */
  async get(key: string): Promise<URL | undefined> {
    if (!(await this.#usable())) return undefined;
    let entry: Entry;
    try {
      entry = JSON.parse(await readFile(join(this.#dir, `${key}.json`), 'utf8')) as Entry;
    } catch {
      return undefined; // not cached (or unreadable: built again)
    }
    const current = await Promise.all(
      entry.inputs.map(async (input) => {
        try {
          return sha256(await readFile(input.path)) === input.sha256;
        } catch {
          return false;
        }
      }),
    );
    if (!current.every(Boolean)) return undefined;
    const file = join(this.#dir, entry.bundle);
    try {
      await stat(file);
    } catch {
      return undefined;
    }
    return pathToFileURL(file);
  }

  /**
   * Store `code` under `key`, built from `inputs` (absolute paths); answers the bundle's URL,
   * or undefined when the folder cannot be used (the caller then keeps its own copy).
   */
  async put(key: string, code: string, inputs: string[]): Promise<URL | undefined> {
    if (!(await this.#usable())) return undefined;
    try {
      const hashed = await Promise.all(
        inputs.map(async (path) => ({ path, sha256: sha256(await readFile(path)) })),
      );
      const bundle = `${sha256(code)}.mjs`;
      await this.#write(bundle, code);
      await this.#write(`${key}.json`, JSON.stringify({ inputs: hashed, bundle } satisfies Entry));
      return pathToFileURL(join(this.#dir, bundle));
    } catch {
      return undefined;
    }
  }

  async #write(name: string, data: string): Promise<void> {
    const temp = join(this.#dir, `.${name}.${randomUUID()}.tmp`);
    try {
      await writeFile(temp, data, { mode: 0o600 });
      await rename(temp, join(this.#dir, name));
    } finally {
      await rm(temp, { force: true });
    }
  }

  /** The folder exists, belongs to this user and no one else can write to it. */
  #usable(): Promise<boolean> {
    this.#ready ??= (async () => {
      try {
        await mkdir(this.#dir, { recursive: true, mode: 0o700 });
        const info = await stat(this.#dir);
        const uid = process.getuid?.();
        return (
          info.isDirectory() && (uid === undefined || info.uid === uid) && !(info.mode & 0o022)
        );
      } catch {
        return false;
      }
    })();
    return this.#ready;
  }
}
