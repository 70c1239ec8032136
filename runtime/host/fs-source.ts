/**
 * Functions from a folder on disk (`node:fs` works on Node, Deno and Bun): `<name>.ts|.js|.mjs`,
 * names checked against the contract's rule, everything else passed over with a warning. The
 * folder is also where deploys land: written under a hidden name and checked there, then written
 * into place by rename, so a reader never sees half a file and a restart serves what was deployed.
 * @module
 */
import { readdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { extname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { isFunctionName, MODULE_EXTENSIONS } from '../names.ts';
import {
  type FunctionEntry,
  type FunctionSource,
  type SourceLanguage,
  STAGED_STALE_MS,
  type StagedSource,
} from '../worker-host.ts';
import { watchFolder } from './fs-watch.ts';

/** The registry's state file: hidden, so the listing passes over it. */
export const STATE_FILE = '.ebbflow-versions.json';

const EXTENSION: Record<SourceLanguage, string> = { ts: '.ts', js: '.js' };

/** A staged source (`.<name>.<8 hex>.deploy.<ext>`) or a half-written copy (`...tmp`). */
const STAGED = /^\.[A-Za-z0-9][A-Za-z0-9_-]{0,63}\.[0-9a-f]{8}\.(deploy\.(ts|js)|tmp)$/;

export interface FolderSourceOptions {
  /** Quiet time after the last change before the watcher reports. @default 150 */
  debounceMs?: number;
}

export const folderSource = (
  folder: string,
  { debounceMs = 150 }: FolderSourceOptions = {},
): FunctionSource => {
  const dir = resolve(folder);
  const entry = (name: string, file: string): FunctionEntry => ({
    name,
    url: pathToFileURL(join(dir, file)).href,
  });
  return {
    async list() {
      const files = await readdir(dir, { withFileTypes: true });
      const entries: FunctionEntry[] = [];
      const warnings: string[] = [];
      const seen = new Map<string, string>();
      for (const file of files.sort((a, b) => a.name.localeCompare(b.name))) {
        if (!file.isFile() || file.name.startsWith('.')) continue;
        const ext = extname(file.name);
        if (file.name.endsWith('.d.ts') || file.name.includes('.test.')) continue;
        if (!(MODULE_EXTENSIONS as readonly string[]).includes(ext)) {
          warnings.push(
            `${file.name}: skipped, a function module ends in ${MODULE_EXTENSIONS.join(', ')}`,
          );
          continue;
        }
        const name = file.name.slice(0, -ext.length);
        if (!isFunctionName(name)) {
          warnings.push(
            `${file.name}: skipped, "${name}" is not a valid function name (letters, digits, _ and -, at most 64)`,
          );
          continue;
        }
        const earlier = seen.get(name);
        if (earlier) {
          warnings.push(`${file.name}: skipped, "${name}" is already defined by ${earlier}`);
          continue;
        }
        seen.set(name, file.name);
        entries.push(entry(name, file.name));
      }
      return { entries, warnings };
    },

    read: (found) => readFile(new URL(found.url), 'utf8'),

    async stage(name, source, language): Promise<StagedSource> {
      const ext = EXTENSION[language];
      // Hidden (the listing and the watcher pass over it) and ending in the real extension, so
      // Deno and Bun load it as the language it is.
      const hidden = `.${name}.${crypto.randomUUID().slice(0, 8)}.deploy${ext}`;
      const path = join(dir, hidden);
      await writeFile(path, source);
      return {
        entry: entry(name, hidden),
        async commit() {
          // A copy, written atomically: the hidden file stays what this version's workers load
          // (Deno and Bun import it at each spawn), so no later edit reaches a version that serves.
          const file = `${name}${ext}`;
          const temp = join(dir, `.${name}.${crypto.randomUUID().slice(0, 8)}.tmp`);
          await writeFile(temp, source);
          await rename(temp, join(dir, file));
          // Then the name's other extensions: the function is never missing in between.
          for (const other of MODULE_EXTENSIONS) {
            if (other !== ext) await rm(join(dir, `${name}${other}`), { force: true });
          }
          return entry(name, file);
        },
        discard: () => rm(path, { force: true }),
        keep: async () => {
          const now = new Date();
          await utimes(path, now, now).catch(() => {});
        },
      };
    },

    async remove(name) {
      let removed = false;
      for (const ext of MODULE_EXTENSIONS) {
        try {
          await rm(join(dir, `${name}${ext}`));
          removed = true;
        } catch (error) {
          if ((error as { code?: string }).code !== 'ENOENT') throw error;
        }
      }
      return removed;
    },

    watch: (changed) => watchFolder(dir, changed, debounceMs),

    async sweep() {
      const files = await readdir(dir);
      const stale = Date.now() - STAGED_STALE_MS;
      await Promise.all(
        files
          .filter((f) => STAGED.test(f))
          .map(async (f) => {
            const path = join(dir, f);
            // Another server on this folder still loads a copy it keeps marking: leave it.
            const { mtimeMs } = await stat(path).catch(() => ({ mtimeMs: Infinity }));
            if (mtimeMs < stale) await rm(path, { force: true });
          }),
      );
    },

    async loadState() {
      try {
        return await readFile(join(dir, STATE_FILE), 'utf8');
      } catch (error) {
        if ((error as { code?: string }).code === 'ENOENT') return undefined;
        throw error;
      }
    },

    async saveState(text) {
      const temp = join(dir, `${STATE_FILE}.${crypto.randomUUID().slice(0, 8)}.tmp`);
      await writeFile(temp, text);
      await rename(temp, join(dir, STATE_FILE));
    },
  };
};
