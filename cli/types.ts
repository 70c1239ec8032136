/**
 * `ebbflow types`: writes a declaration file that maps each function in a folder to its
 * argument and result types, read by the TypeScript checker from the function's own signature
 * (`SignatureOf<typeof import('./functions/fib.js')>`), so no second copy of a type is written
 * and a changed function changes the client's types. Use it with the client:
 * `createClient<Functions>(...)`, then `client.invoke('fib', ['x'])` is a type error.
 * @module
 */
import { readdir, writeFile } from 'node:fs/promises';
import { dirname, extname, relative, resolve } from 'node:path';
import { defineCommand } from 'citty';

const NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
const EXTENSIONS = new Set(['.ts', '.mts', '.js', '.mjs']);

export interface TypesOptions {
  /** The functions folder. */
  functions: string;
  /** The declaration file to write, e.g. `ebbflow-functions.d.ts`. */
  out: string;
  /** Where the client's types are imported from. @default 'ebbflow/client' */
  client?: string;
}

/** The module path TypeScript resolves to the source: `.ts` through `.js`, as ESM expects. */
const importPath = (from: string, file: string): string => {
  let path = relative(dirname(from), file).split('\\').join('/');
  if (!path.startsWith('.')) path = `./${path}`;
  return path.replace(/\.ts$/, '.js').replace(/\.mts$/, '.mjs');
};

/** The declaration's text for the function modules found in `functions`. */
export const declarationFor = async (options: TypesOptions): Promise<string> => {
  const folder = resolve(options.functions);
  const out = resolve(options.out);
  const files = (await readdir(folder)).filter((file) => EXTENSIONS.has(extname(file))).sort();
  const lines: string[] = [];
  const seen = new Set<string>();
  for (const file of files) {
    const name = file.slice(0, -extname(file).length);
    if (!NAME.test(name) || seen.has(name) || name.endsWith('.d')) continue;
    seen.add(name);
    const path = importPath(out, resolve(folder, file));
    lines.push(`  ${JSON.stringify(name)}: SignatureOf<typeof import(${JSON.stringify(path)})>;`);
  }
  return [
    '// Written by `ebbflow types`: each function name with its argument and result types, read',
    '// from the function modules themselves. Write it again after adding or renaming a function.',
    `import type { SignatureOf } from ${JSON.stringify(options.client ?? 'ebbflow/client')};`,
    '',
    'export type Functions = {',
    ...lines,
    '};',
    '',
  ].join('\n');
};

export const writeTypes = async (options: TypesOptions): Promise<number> => {
  const text = await declarationFor(options);
  await writeFile(resolve(options.out), text);
  return text.split('\n').filter((line) => line.startsWith('  "')).length;
};

/** The citty subcommand, for the CLI's `subCommands: { types: typesCommand }`. */
export const typesCommand = defineCommand({
  meta: {
    name: 'types',
    description: 'Write a .d.ts mapping each function to its argument and result types',
  },
  args: {
    functions: {
      type: 'string',
      description: 'The functions folder',
      default: process.env.EBBFLOW_FUNCTIONS ?? './functions',
    },
    out: { type: 'string', description: 'The file to write', default: 'ebbflow-functions.d.ts' },
    client: {
      type: 'string',
      description: "Where the client's types come from",
      default: 'ebbflow/client',
    },
  },
  async run({ args }) {
    const count = await writeTypes({
      functions: args.functions,
      out: args.out,
      client: args.client,
    });
    console.log(`ebbflow types: ${count} functions written to ${args.out}`);
  },
});
