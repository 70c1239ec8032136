import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { BundleCache } from './bundle-cache.ts';
import { nodeHost } from './node.ts';

const scratch = mkdtempSync(join(tmpdir(), 'ebbflow-cache-test-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
let folders = 0;
const folder = () => {
  const dir = join(scratch, `d${++folders}`);
  mkdirSync(dir);
  return dir;
};

describe('BundleCache', () => {
  it('Should give back a stored bundle while the files it was built from are unchanged', async () => {
    const src = folder();
    const input = join(src, 'f.ts');
    writeFileSync(input, 'export default 1');
    const cache = new BundleCache(join(folder(), 'cache'));
    expect(await cache.get('k')).toBeUndefined();
    const stored = await cache.put('k', 'code 1', [input]);
    expect(stored && readFileSync(stored, 'utf8')).toBe('code 1');
    expect((await cache.get('k'))?.href).toBe(stored?.href);
    writeFileSync(input, 'export default 2');
    expect(await cache.get('k')).toBeUndefined();
    rmSync(input);
    expect(await cache.get('k')).toBeUndefined();
  });

  it('Should stay whole when servers store the same bundle at once, leaving no temporary files', async () => {
    const src = folder();
    const input = join(src, 'f.ts');
    writeFileSync(input, 'x');
    const dir = join(folder(), 'cache');
    const code = 'y'.repeat(1_000_000);
    const urls = await Promise.all(
      Array.from({ length: 8 }, () => new BundleCache(dir).put('k', code, [input])),
    );
    for (const url of urls) expect(url && readFileSync(url, 'utf8')).toBe(code);
    expect((await readdir(dir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    expect(await new BundleCache(dir).get('k')).toBeDefined();
  });

  it('Should not use a folder that others can write to', async () => {
    const dir = folder();
    chmodSync(dir, 0o777);
    const cache = new BundleCache(dir);
    expect(await cache.put('k', 'code', [])).toBeUndefined();
    expect(await cache.get('k')).toBeUndefined();
  });
});

describe('the Node host with a bundle cache', () => {
  const bundleOf = async (host: ReturnType<typeof nodeHost>, file: string) => {
    const prepared = (await host.prepare({
      name: 'f',
      url: pathToFileURL(file).href,
    })) as unknown as {
      bundle: URL;
    };
    return {
      url: prepared.bundle.href,
      code: readFileSync(fileURLToPath(prepared.bundle), 'utf8'),
    };
  };

  it('Should bundle again when the function or a file it imports changes, and not otherwise', async () => {
    const src = folder();
    const fn = join(src, 'f.ts');
    const helper = join(src, 'helper.ts');
    writeFileSync(helper, "export const word = 'first-word';");
    writeFileSync(fn, "import { word } from './helper.ts';\nexport default () => word;");
    const dir = join(folder(), 'cache');
    const first = await bundleOf(nodeHost({ bundleCache: dir }), fn);
    expect(first.code).toContain('first-word');
    // Another server (a restart) finds it.
    expect((await bundleOf(nodeHost({ bundleCache: dir }), fn)).url).toBe(first.url);
    writeFileSync(helper, "export const word = 'second-word';");
    const second = await bundleOf(nodeHost({ bundleCache: dir }), fn);
    expect(second.code).toContain('second-word');
    writeFileSync(fn, "export default () => 'third-word';");
    expect((await bundleOf(nodeHost({ bundleCache: dir }), fn)).code).toContain('third-word');
  });

  it('Should bundle into a temporary folder with the cache off', async () => {
    const src = folder();
    const fn = join(src, 'f.ts');
    writeFileSync(fn, 'export default () => 1;');
    const host = nodeHost({ bundleCache: false });
    const { url } = await bundleOf(host, fn);
    expect(url).toMatch(/\/ebbflow-[^/]+\/f\.mjs$/);
    await host.dispose?.();
  });
});
