/**
 * deno.json stays in step with the code: `deno task start` runs the launcher with only what it
 * needs to derive the server's grants (the variables in LAUNCHER_ENV and running Deno), and
 * enables the worker sandbox. The server's own grants are tested in server/deno-grants.test.ts
 * and, through a real `deno task start`, in test/deno-launch.test.ts.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DENO_BIN, LAUNCHER_ENV } from '../server/deno-grants.ts';

const deno = JSON.parse(readFileSync(new URL('../deno.json', import.meta.url), 'utf8'));
const start: string = deno.tasks.start.command;
const flag = (name: string) => new RegExp(`--${name}=(\\S+)`).exec(start)?.[1];

describe('deno.json', () => {
  it('Should run the launcher with exactly the variables it derives the grants from', () => {
    expect(start).toMatch(/ server\/deno-launch\.ts$/);
    expect(flag('allow-env')?.split(',').sort()).toEqual([...LAUNCHER_ENV].sort());
    expect(flag('allow-run')).toBe(`./${DENO_BIN}`);
  });

  it('Should give the launcher nothing else', () => {
    expect(start).not.toMatch(/--allow-(read|write|net|sys|ffi|import|all)|\s-A\s/);
  });

  it('Should enable worker permissions and resolve packages from node_modules', () => {
    expect(deno.unstable).toContain('worker-options');
    expect(deno.nodeModulesDir).toBe('manual');
  });
});
