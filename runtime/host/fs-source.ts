/**
 * Functions from a folder on disk (`node:fs` works on Node, Deno and Bun): `<name>.ts|.js|.mjs`,
 * names checked against the contract's rule, everything else passed over with a warning.
 * @module
 */
import { readdir } from 'node:fs/promises';
import { extname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { isFunctionName, MODULE_EXTENSIONS } from '../names.ts';
import type { FunctionEntry, FunctionSource } from './types.ts';

export const folderSource = (folder: string): FunctionSource => ({
  async list() {
    const dir = resolve(folder);
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
      entries.push({ name, url: pathToFileURL(resolve(dir, file.name)).href });
    }
    return { entries, warnings };
  },
});
