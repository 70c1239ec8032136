/**
 * Functions from a folder on disk (`node:fs` works on Node, Deno and Bun): `<name>.ts|.js|.mjs`,
 * names checked against the contract's rule, everything else passed over with a warning. The
 * folder is also where deploys land, written into place by rename, so a reader never sees half a
 * file and a restart serves what was deployed. What ebbflow keeps for the folder lives in one
 * hidden folder inside it, `.ebbflow/` (never a function, never watched): the versions file, the
 * kept sources of recent versions (rollback), and each serving version's own copy of its source
 * (`staged/`), rewritten so its relative imports reach the files beside the module.
 * @module
 */
import { mkdir, readdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
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
import { relocate } from './relocate.ts';

/** ebbflow's own folder inside a functions folder (hidden: the listing passes over it). */
export const STATE_DIR = '.ebbflow';
/** The registry's state file, in `STATE_DIR`. */
export const STATE_FILE = 'versions.json';
/** Where versions before this one kept their state: the functions folder itself. */
const LEGACY_STATE_FILE = '.ebbflow-versions.json';

const EXTENSION: Record<SourceLanguage, string> = { ts: '.ts', js: '.js' };

/** A version's copy in `staged/` (`<name>.<8 hex>.<ext>`) or a half-written file (`...tmp`). */
const STAGED = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}\.[0-9a-f]{8}\.(ts|js|tmp)$/;
/**
 * What earlier versions left in the folder itself: a copy beside the module
 * (`.<name>.<8 hex>.deploy.<ext>`; still written there when a source cannot be relocated) or a
 * half-written file (`.<name>.<8 hex>.tmp`).
 */
const BESIDE = /^\.[A-Za-z0-9][A-Za-z0-9_-]{0,63}\.[0-9a-f]{8}\.(deploy\.(ts|js)|tmp)$/;

export interface FolderSourceOptions {
  /** Quiet time after the last change before the watcher reports. @default 150 */
  debounceMs?: number;
}

const shortId = () => crypto.randomUUID().slice(0, 8);

/** Write `text` to `path` atomically: a temporary file beside it, renamed over it. */
const writeAtomically = async (path: string, text: string): Promise<void> => {
  const temp = `${path}.${shortId()}.tmp`;
  await writeFile(temp, text);
  await rename(temp, path);
};

const missing = (error: unknown): boolean => (error as { code?: string }).code === 'ENOENT';

export const folderSource = (
  folder: string,
  { debounceMs = 150 }: FolderSourceOptions = {},
): FunctionSource => {
  const dir = resolve(folder);
  const state = join(dir, STATE_DIR);
  const stagedDir = join(state, 'staged');
  const sourcesDir = join(state, 'sources');
  const entry = (name: string, file: string): FunctionEntry => ({
    name,
    url: pathToFileURL(join(dir, file)).href,
  });
  const keptPath = (name: string, version: number, language: SourceLanguage) =>
    join(sourcesDir, name, `${version}${EXTENSION[language]}`);

  /** A copy of `source` for a version's workers, in `staged/` when it can be relocated. */
  const copyOf = async (name: string, source: string, language: SourceLanguage) => {
    const ext = EXTENSION[language];
    const home = pathToFileURL(join(dir, `${name}${ext}`)).href;
    const path = join(stagedDir, `${name}.${shortId()}${ext}`);
    const url = pathToFileURL(path).href;
    let text: string | undefined;
    try {
      text = await relocate(source, home, url);
    } catch {
      // Text the lexer cannot read (it will not load either): the copy goes beside the module,
      // where its imports resolve as they are and the loader names the user's line.
      const beside = join(dir, `.${name}.${shortId()}.deploy${ext}`);
      await writeFile(beside, source);
      return { path: beside, entry: { name, url: pathToFileURL(beside).href, home } };
    }
    await mkdir(stagedDir, { recursive: true });
    await writeFile(path, text);
    return { path, entry: { name, url, home } };
  };

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
      const { path, entry: copy } = await copyOf(name, source, language);
      return {
        entry: copy,
        async commit() {
          // The copy stays what this version's workers load (Deno and Bun import it at each
          // spawn), so no later edit of the module reaches a version that serves.
          await writeAtomically(join(dir, `${name}${ext}`), source);
          // Then the name's other extensions: the function is never missing in between.
          for (const other of MODULE_EXTENSIONS) {
            if (other !== ext) await rm(join(dir, `${name}${other}`), { force: true });
          }
          return entry(name, `${name}${ext}`);
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
      const stale = Date.now() - STAGED_STALE_MS;
      const sweepIn = async (folder: string, pattern: RegExp) => {
        const files = await readdir(folder).catch(() => [] as string[]);
        await Promise.all(
          files
            .filter((f) => pattern.test(f))
            .map(async (f) => {
              const path = join(folder, f);
              // Another server on this folder still loads a copy it keeps marking: leave it.
              const { mtimeMs } = await stat(path).catch(() => ({ mtimeMs: Infinity }));
              if (mtimeMs < stale) await rm(path, { force: true });
            }),
        );
      };
      await sweepIn(stagedDir, STAGED);
      await sweepIn(dir, BESIDE);
    },

    async loadState() {
      for (const path of [join(state, STATE_FILE), join(dir, LEGACY_STATE_FILE)]) {
        try {
          return await readFile(path, 'utf8');
        } catch (error) {
          if (!missing(error)) throw error;
        }
      }
      return undefined;
    },

    async saveState(text) {
      await mkdir(state, { recursive: true });
      await writeAtomically(join(state, STATE_FILE), text);
      // Moved into .ebbflow/: the old file in the folder itself goes.
      await rm(join(dir, LEGACY_STATE_FILE), { force: true });
    },

    async keepSource(name, version, text, language) {
      await mkdir(join(sourcesDir, name), { recursive: true });
      await writeAtomically(keptPath(name, version, language), text);
    },

    async keptSource(name, version) {
      for (const language of ['ts', 'js'] as const) {
        try {
          return { text: await readFile(keptPath(name, version, language), 'utf8'), language };
        } catch (error) {
          if (!missing(error)) throw error;
        }
      }
      return undefined;
    },

    async dropSource(name, version) {
      for (const language of ['ts', 'js'] as const) {
        await rm(keptPath(name, version, language), { force: true });
      }
    },
  };
};
