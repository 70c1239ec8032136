/**
 * The Workers build step (wrangler.toml's `[build] command`): compiles each function module of
 * `EBBFLOW_FUNCTIONS` (default `./functions`) to one JavaScript module with esbuild and writes
 * `.wrangler/ebbflow/functions.js`, which the Worker imports as `ebbflow:functions`: each
 * function's name, code and SHA-256. Workers cannot import a module by a path known only at run
 * time, nor compile TypeScript there, so this happens before `wrangler dev` and `deploy`.
 * @module
 */
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { isFunctionName, MODULE_EXTENSIONS } from '../runtime/names.ts';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Where the generated module goes (wrangler.toml aliases `ebbflow:functions` to it). */
export const GENERATED = join(ROOT, '.wrangler', 'ebbflow', 'functions.js');

export interface CompiledFunction {
  name: string;
  js: string;
  /** SHA-256 of the module's source (what FunctionInfo shows), hex. */
  sha256: string;
  /** SHA-256 of the compiled code (what the isolate is loaded under), hex. */
  codeSha256: string;
  /** Why it does not compile: the function is listed as unavailable with this message. */
  error?: string;
}

const hex = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex');

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
    try {
      const js = await compileFunction(join(folder, file));
      const source = await readFile(join(folder, file));
      functions.push({ name, js, sha256: hex(source), codeSha256: hex(js) });
    } catch (error) {
      // A module that does not compile is listed as unavailable with the compiler's message, as
      // a broken file is on the other hosts; the build itself goes on.
      const message = `the module failed to load: ${(error as Error).message}`;
      functions.push({
        name,
        js: '',
        sha256: hex(await readFile(join(folder, file))),
        codeSha256: hex(message),
        error: message,
      });
      warnings.push(`${file}: ${message}`);
    }
  }
  return { functions, warnings };
};

/** Write the generated module for `folder` (atomically, so a running dev server never reads half). */
export const writeBundle = async (folder: string, target = GENERATED): Promise<string[]> => {
  const { functions, warnings } = await compileFolder(folder);
  await mkdir(join(target, '..'), { recursive: true });
  const temp = `${target}.${process.pid}.tmp`;
  await writeFile(temp, `export default ${JSON.stringify({ functions, warnings })};\n`);
  await rename(temp, target);
  return warnings;
};

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const folder = resolve(process.env.EBBFLOW_FUNCTIONS || './functions');
  const warnings = await writeBundle(folder);
  for (const warning of warnings) console.warn(`ebbflow build: ${warning}`);
}
