/** What the results were measured on: cores, RAM, runtimes and peers' versions, load. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg, totalmem, type } from 'node:os';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

const version = (bin: string, args: string[]): string => {
  try {
    const out = execFileSync(`${ROOT}node_modules/.bin/${bin}`, args, { encoding: 'utf8' });
    return out.split('\n')[0]?.trim() ?? 'unknown';
  } catch {
    return 'not found';
  }
};

const packageVersion = (name: string): string => {
  try {
    const file = `${ROOT}node_modules/${name}/package.json`;
    return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
  } catch {
    return 'not found';
  }
};

export const describeMachine = () => ({
  cores: cpus().length,
  cpu: cpus()[0]?.model ?? 'unknown',
  ramGiB: Math.round(totalmem() / 2 ** 30),
  os: type(),
  node: process.version,
  deno: version('deno', ['--version']),
  bun: version('bun', ['--version']),
  peers: ['piscina', 'comlink', 'hono', '@hono/node-server', 'autocannon']
    .map((p) => `${p} ${packageVersion(p)}`)
    .join(', '),
});

export const load = (): string =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' / ');
