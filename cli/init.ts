/**
 * `ebbflow init [folder]`: what a new project needs before `ebbflow serve`: a functions folder
 * with one example function, and `.gitignore` lines for the files ebbflow writes. It never
 * overwrites: what exists already is left as it is and said so.
 * @module
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { defineCommand } from 'citty';
import { CliFailure, EXIT } from './http.ts';

/** The example function: what `curl .../functions/hello/invoke -d '{"args":["Ada"]}'` runs. */
export const HELLO = `/**
 * A function: the file name is its name (\`hello\`), the default export is what runs, and its
 * arguments and result are JSON. \`config\` is optional (see docs/runtime.md).
 */
export const config = { timeoutMs: 5_000 };

export default function hello(name = 'world'): string {
  return \`hello \${name}\`;
}
`;

/** What ebbflow writes beside your code: its folder in the functions folder and its data. */
export const IGNORED = ['.ebbflow/'] as const;

const GITIGNORE_HEADER = '# ebbflow: versions, kept sources and task data (docs/production.md)';

export interface InitResult {
  /** Paths created or changed, relative to the working folder. */
  wrote: string[];
  /** Paths that existed and were left as they were. */
  kept: string[];
}

/** Make `folder` with `hello.ts` in it and add ebbflow's lines to `.gitignore` in `cwd`. */
export const init = async (folder: string, cwd: string): Promise<InitResult> => {
  const result: InitResult = { wrote: [], kept: [] };
  const dir = resolve(cwd, folder);
  const shown = (path: string) => relative(cwd, path) || '.';
  await mkdir(dir, { recursive: true });
  const hello = join(dir, 'hello.ts');
  try {
    await writeFile(hello, HELLO, { flag: 'wx' });
    result.wrote.push(shown(hello));
  } catch (error) {
    if ((error as { code?: string }).code !== 'EEXIST') throw error;
    result.kept.push(shown(hello));
  }
  const ignore = join(cwd, '.gitignore');
  const before = await readFile(ignore, 'utf8').catch(() => '');
  const lines = new Set(before.split('\n').map((line) => line.trim()));
  const missing = IGNORED.filter((line) => !lines.has(line));
  if (missing.length === 0) {
    result.kept.push('.gitignore');
  } else {
    const separator = before === '' || before.endsWith('\n') ? '' : '\n';
    await writeFile(ignore, `${before}${separator}${GITIGNORE_HEADER}\n${missing.join('\n')}\n`);
    result.wrote.push('.gitignore');
  }
  return result;
};

export const initCommand = defineCommand({
  meta: {
    name: 'init',
    description: 'start a project: a functions folder with hello.ts, and .gitignore lines',
  },
  args: {
    folder: {
      type: 'positional',
      required: false,
      description: 'the functions folder (default: ./functions)',
    },
  },
  async run({ args }) {
    const folder = args.folder ?? './functions';
    let done: InitResult;
    try {
      done = await init(folder, process.cwd());
    } catch (error) {
      throw new CliFailure(`init: ${(error as Error).message}`, EXIT.failed);
    }
    for (const path of done.wrote) console.log(`wrote ${path}`);
    for (const path of done.kept) console.log(`kept ${path} (it exists)`);
    const dir = folder.replace(/\/+$/, '');
    console.log(
      [
        '',
        'next:',
        `  npx ebbflow serve ${dir}          # http://127.0.0.1:8787, the dashboard at /`,
        `  npx ebbflow invoke hello Ada       # "hello Ada"`,
        '  the guide from here to a deployed function: docs/getting-started.md (in the package)',
      ].join('\n'),
    );
  },
});
