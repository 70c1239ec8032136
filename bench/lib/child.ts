/** Runs one case in a fresh Node process (under tsx) and returns the figures it emitted. */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { RESULT_TAG } from './emit.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface CaseRun {
  /** A file in bench/cases/. */
  file: string;
  args: Array<string | number>;
  /** Node flags before the script (e.g. --expose-gc). */
  nodeFlags?: string[];
  timeoutMs?: number;
}

export const runCase = ({
  file,
  args,
  nodeFlags = [],
  timeoutMs = 180_000,
}: CaseRun): Promise<Record<string, unknown>> =>
  new Promise((resolve, reject) => {
    const script = fileURLToPath(new URL(`../cases/${file}`, import.meta.url));
    const child = spawn(
      process.execPath,
      [...nodeFlags, '--import', 'tsx', script, ...args.map(String)],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      err += chunk.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      const line = out.split('\n').find((l) => l.startsWith(RESULT_TAG));
      if (code === 0 && line) return resolve(JSON.parse(line.slice(RESULT_TAG.length)));
      const why = signal ? `killed by ${signal}` : `exit code ${code}`;
      reject(new Error(`${file} ${args.join(' ')}: ${why}\n${err.slice(-2_000)}`));
    });
  });
