/**
 * A module's text made to run from another folder as it would from its own: its relative import
 * specifiers (static, re-exports, and `import('…')` with a literal) are rewritten to reach the
 * same files from the copy's place, and `import.meta` answers the module's own URL and paths.
 * Lines stay where they are (nothing adds a line), so a loader's "line N" still names the
 * user's line. Found by `es-module-lexer`, which reads TypeScript's type syntax as well as
 * JavaScript (generics, `satisfies`, `enum`, regular expressions and templates were checked in
 * relocate.test.ts); a dynamic import of a computed string cannot be rewritten and resolves
 * from the copy.
 * @module
 */
import { dirname, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { init, parse } from 'es-module-lexer';

/** What `import.meta` reads in the copy: the module's own URL and paths (Deno's and Bun's names). */
const metaOf = (home: string): string => {
  const file = fileURLToPath(home);
  const dir = dirname(file);
  const fields = {
    url: home,
    filename: file,
    dirname: dir,
    path: file,
    dir,
    file: file.slice(dir.length + 1),
  };
  const own = Object.entries(fields)
    .map(([key, value]) => `${key}: ${JSON.stringify(value)}`)
    .join(', ');
  return `({ ...import.meta, ${own}, resolve: (s) => new URL(s, ${JSON.stringify(home)}).href })`;
};

/** The specifier that reaches `target` from a module at `from` (both `file:` URLs). */
const specifierFrom = (from: string, target: URL): string => {
  const path = relative(dirname(fileURLToPath(from)), fileURLToPath(target))
    .split('\\')
    .join('/');
  const spec = path.startsWith('../') ? path : `./${path}`;
  return `${spec}${target.search}${target.hash}`;
};

const isRelative = (specifier: string): boolean =>
  specifier.startsWith('./') || specifier.startsWith('../');

/**
 * `text`, the module at `home`, rewritten to run from `copy` (both `file:` URLs). Throws when
 * the text cannot be read as a module (the caller keeps the copy beside the module then).
 */
export const relocate = async (text: string, home: string, copy: string): Promise<string> => {
  await init;
  const [imports] = parse(text, fileURLToPath(home));
  const edits: Array<{ start: number; end: number; text: string }> = [];
  for (const found of imports) {
    // `import.meta` (d = -2): every use of it, whatever field is read.
    if (found.d === -2) {
      edits.push({ start: found.s, end: found.e, text: metaOf(home) });
      continue;
    }
    const specifier = found.n;
    if (specifier === undefined || !isRelative(specifier)) continue;
    const moved = specifierFrom(copy, new URL(specifier, home));
    if (/['"`\\\n]/.test(moved)) throw new Error(`cannot rewrite the import of ${specifier}`);
    // A dynamic import's range is its whole argument, quotes included.
    const dynamic = found.d >= 0;
    edits.push({ start: found.s, end: found.e, text: dynamic ? JSON.stringify(moved) : moved });
  }
  let out = '';
  let at = 0;
  for (const edit of edits.sort((a, b) => a.start - b.start)) {
    out += text.slice(at, edit.start) + edit.text;
    at = edit.end;
  }
  return out + text.slice(at);
};
