/**
 * The Workers build step (wrangler.toml's `[build] command`): compiles each function module of
 * `EBBFLOW_FUNCTIONS` (default `./functions`) to one JavaScript module with esbuild, and the
 * isolates' main module (`edge/isolate/main.ts`), into `.wrangler/ebbflow/functions.js`, which
 * the Worker imports as `ebbflow:functions`; and copies the files of the pages (the dashboard,
 * `/docs`) into `.wrangler/ebbflow/assets`, served as the Worker's static assets. Workers cannot
 * import a module by a path known only at run time, so this happens before `wrangler dev` and
 * `deploy`.
 * @module
 */
import { createHash } from 'node:crypto';
import { copyFile, mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Message } from 'esbuild';
import { PAGE_FILES } from '../api/routes/pages.ts';
import { isFunctionName, MODULE_EXTENSIONS } from '../runtime/names.ts';
import { assetPath } from './assets.ts';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Where the generated module goes (wrangler.toml aliases `ebbflow:functions` to it). */
export const GENERATED = join(ROOT, '.wrangler', 'ebbflow', 'functions.js');

/** The static assets folder (wrangler.toml's `[assets] directory`). */
export const ASSETS = join(ROOT, '.wrangler', 'ebbflow', 'assets');

export interface CompiledFunction {
  name: string;
  js: string;
  /** SHA-256 of the module's source (what FunctionInfo shows), hex. */
  sha256: string;
  /** SHA-256 of the compiled code (what the isolate is loaded under), hex. */
  codeSha256: string;
  /** Why it does not compile: the function is listed as unavailable with this message. */
  error?: string;
  /** The module's language, by its file's extension (`.mjs` is JavaScript). */
  language: 'ts' | 'js';
  /** The module's size in bytes, as a kept version lists it. */
  bytes: number;
}

const hex = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex');

/** esbuild's first error as the other hosts word a syntax error: `Unexpected ";" (line 1)`. */
const compileError = (error: unknown): string => {
  const first = (error as { errors?: Message[] }).errors?.[0];
  if (!first) return (error as Error).message;
  return first.location ? `${first.text} (line ${first.location.line})` : first.text;
};

/** One function module as a single ES module (its imports bundled in; `node:` left to workerd). */
export const compileFunction = async (file: string): Promise<string> => {
  const out = await build({
    entryPoints: [file],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    mainFields: ['module', 'main'],
    conditions: ['workerd', 'worker', 'import'],
    external: ['node:*', 'cloudflare:*'],
    logLevel: 'silent',
  });
  return (out.outputFiles[0] as { text: string }).text;
};

/** The main module of every function's isolate, as one JavaScript module. */
export const compileIsolateMain = async (): Promise<string> => {
  const out = await build({
    entryPoints: [join(ROOT, 'edge', 'isolate', 'main.ts')],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    // The function is loaded beside it; node: and cloudflare: are workerd's own.
    external: ['./function.js', 'node:*', 'cloudflare:*'],
    logLevel: 'silent',
  });
  return (out.outputFiles[0] as { text: string }).text;
};

/** Every function of `folder`, compiled; files that are not functions are named in `warnings`. */
export const compileFolder = async (
  folder: string,
): Promise<{ functions: CompiledFunction[]; warnings: string[] }> => {
  const functions: CompiledFunction[] = [];
  const warnings: string[] = [];
  for (const file of (await readdir(folder)).sort()) {
    const ext = extname(file);
    if (!(MODULE_EXTENSIONS as readonly string[]).includes(ext)) continue;
    const name = file.slice(0, -ext.length);
    if (!isFunctionName(name)) {
      warnings.push(
        `${file}: skipped, a function name must match ^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`,
      );
      continue;
    }
    const language = ext === '.ts' ? 'ts' : 'js';
    try {
      const js = await compileFunction(join(folder, file));
      const source = await readFile(join(folder, file));
      functions.push({
        name,
        js,
        sha256: hex(source),
        codeSha256: hex(js),
        language,
        bytes: source.length,
      });
    } catch (error) {
      // A module that does not compile is listed as unavailable with the compiler's message, as
      // a broken file is on the other hosts; the build itself goes on.
      const message = `the module failed to load: ${compileError(error)}`;
      const source = await readFile(join(folder, file));
      functions.push({
        name,
        js: '',
        sha256: hex(source),
        codeSha256: hex(message),
        error: message,
        language,
        bytes: source.length,
      });
      warnings.push(`${file}: ${message}`);
    }
  }
  return { functions, warnings };
};

/** Write `text` to `target` atomically, so a running dev server never reads half of it. */
const writeAtomically = async (target: string, text: string | Buffer): Promise<void> => {
  await mkdir(dirname(target), { recursive: true });
  const temp = `${target}.${process.pid}.tmp`;
  await writeFile(temp, text);
  await rename(temp, target);
};

/** Write the generated module for `folder`. */
export const writeBundle = async (folder: string, target = GENERATED): Promise<string[]> => {
  const { functions, warnings } = await compileFolder(folder);
  const isolate = await compileIsolateMain();
  await writeAtomically(
    target,
    `export default ${JSON.stringify({ functions, warnings, isolate })};\n`,
  );
  return warnings;
};

/** Copy the pages' files into the assets folder, each where `assetPath` says the Worker asks. */
export const writeAssets = async (target = ASSETS): Promise<void> => {
  const packages = createRequire(join(ROOT, 'package.json'));
  for (const file of PAGE_FILES) {
    const from = file.startsWith('./') ? join(ROOT, file) : packageFile(packages, file);
    const to = join(target, assetPath(file));
    await mkdir(dirname(to), { recursive: true });
    const temp = `${to}.${process.pid}.tmp`;
    await copyFile(from, temp);
    await rename(temp, to);
  }
};

const packageFile = (packages: NodeRequire, file: string): string => {
  const parts = file.split('/');
  const size = file.startsWith('@') ? 2 : 1;
  const name = parts.slice(0, size).join('/');
  return join(dirname(packages.resolve(`${name}/package.json`)), ...parts.slice(size));
};

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const folder = resolve(process.env.EBBFLOW_FUNCTIONS || './functions');
  const warnings = await writeBundle(folder);
  await writeAssets();
  for (const warning of warnings) console.warn(`ebbflow build: ${warning}`);
}
