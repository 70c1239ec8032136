/**
 * deno.json stays in step with the code: `deno task start` grants exactly the variables the
 * settings read, listens only on 127.0.0.1, and enables the worker sandbox.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SETTINGS } from '../api/settings.ts';

const deno = JSON.parse(readFileSync(new URL('../deno.json', import.meta.url), 'utf8'));
const start: string = deno.tasks.start.command;
const flag = (name: string) => new RegExp(`--${name}=(\\S+)`).exec(start)?.[1];

describe('deno.json', () => {
  it('Should grant the start task exactly the settings variables', () => {
    expect(flag('allow-env')?.split(',').sort()).toEqual(SETTINGS.map((s) => s.env).sort());
  });

  it('Should keep the start task to the least permissions', () => {
    expect(flag('allow-net')).toBe('127.0.0.1');
    expect(flag('allow-read')).toBe('.');
    expect(flag('allow-sys')).toBe('systemMemoryInfo');
    expect(start).not.toMatch(/--allow-(write|run|ffi|all)|\s-A\s/);
  });

  it('Should enable worker permissions and resolve packages from node_modules', () => {
    expect(deno.unstable).toContain('worker-options');
    expect(deno.nodeModulesDir).toBe('manual');
  });
});
