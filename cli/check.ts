/**
 * `ebbflow deploy --check`: a type check of the module (and what it imports) with the
 * TypeScript compiler of the project the command runs in, before anything is sent. A deploy
 * itself never checks types: every host only strips them. ebbflow does not ship TypeScript, so
 * without `typescript` in the project this says how to get it rather than deploy unchecked.
 * @module
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { CliFailure, EXIT } from './http.ts';

/**
 * The options the module is checked with (its project's tsconfig.json is not read: the check is
 * of the one module, as the server loads it): strict, ES2022 with the Web APIs a worker has,
 * imports as a bundler resolves them, `.ts` extensions allowed, Node's types when installed.
 */
export const CHECK_OPTIONS = [
  '--noEmit',
  '--strict',
  '--target',
  'es2022',
  '--lib',
  'es2023,dom',
  '--module',
  'preserve',
  '--moduleResolution',
  'bundler',
  '--allowImportingTsExtensions',
  '--skipLibCheck',
  '--pretty',
  'false',
] as const;

interface Compiler {
  bin: string;
  version: string;
  nodeTypes: boolean;
}

/** TypeScript as the project in `cwd` has it, or undefined. */
const compilerIn = (cwd: string): Compiler | undefined => {
  const require = createRequire(join(cwd, 'package.json'));
  let manifest: string;
  try {
    manifest = require.resolve('typescript/package.json');
  } catch {
    return undefined;
  }
  const pkg = JSON.parse(readFileSync(manifest, 'utf8')) as {
    version: string;
    bin: { tsc: string };
  };
  let nodeTypes = true;
  try {
    require.resolve('@types/node/package.json');
  } catch {
    nodeTypes = false;
  }
  return { bin: join(dirname(manifest), pkg.bin.tsc), version: pkg.version, nodeTypes };
};

/** Type-check `file`; throws a `CliFailure` with tsc's errors, or when there is no tsc. */
export const typeCheck = async (file: string, cwd = process.cwd()): Promise<string> => {
  if (!/\.m?ts$/.test(file)) {
    throw new CliFailure(`--check type-checks TypeScript; ${file} is JavaScript`, EXIT.usage);
  }
  const tsc = compilerIn(cwd);
  if (!tsc) {
    throw new CliFailure(
      '--check type-checks with TypeScript, which this project does not have: npm install --save-dev typescript (without --check, a deploy strips the types and checks none)',
      EXIT.usage,
    );
  }
  const major = Number(tsc.version.split('.')[0]);
  const args = [
    ...CHECK_OPTIONS,
    // From TypeScript 6 on, a tsconfig.json nearby is an error unless told to leave it.
    ...(major >= 6 ? ['--ignoreConfig'] : []),
    ...(tsc.nodeTypes ? ['--types', 'node'] : []),
    file,
  ];
  const output = await new Promise<{ code: number; text: string }>((resolve) => {
    execFile(process.execPath, [tsc.bin, ...args], { cwd }, (error, stdout, stderr) => {
      const code = (error as { code?: unknown } | null)?.code;
      resolve({ code: typeof code === 'number' ? code : error ? 1 : 0, text: stdout + stderr });
    });
  });
  if (output.code !== 0) {
    const errors = output.text.trim().split('\n').join('\n  ');
    throw new CliFailure(
      `${file} has type errors (tsc ${tsc.version}); nothing was deployed:\n  ${errors}`,
      EXIT.failed,
    );
  }
  return tsc.version;
};
