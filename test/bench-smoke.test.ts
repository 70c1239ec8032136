/**
 * A smoke run of the benchmark harness (`npm run bench -- --quick`): every case with tiny sizes,
 * each in its own process. It checks that the harness works end to end, not how fast anything is.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'ebbflow-bench-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('npm run bench', () => {
  it('Should run every case and write the table, the machine and the scaling chart', () => {
    const out = join(dir, 'RESULTS.md');
    const run = spawnSync(
      process.execPath,
      ['--import', 'tsx', 'bench/run.ts', '--quick', `--out=${out}`],
      // Cases 10 (cluster) and 11 (storage) together take about two minutes of it on a loaded
      // 2-core machine: the whole run took 7.4 minutes there at a load average of 10.
      { cwd: root, encoding: 'utf8', timeout: 600_000 },
    );
    expect(run.status, run.stderr).toBe(0);
    const doc = readFileSync(out, 'utf8');
    expect(doc).toContain('## Machine');
    expect(doc).toMatch(/\d+ cores/);
    for (const measure of [
      '1. Trivial tasks, 2 workers',
      '1. Trivial tasks, 4 workers',
      '2. CPU efficiency',
      '3. Sequential latency p50',
      '4. Cold start',
      '5. HTTP invoke (req/s)',
      '5. HTTP submit + long-poll',
      '6. RSS per idle worker',
      '7. Scaling: time to the needed',
      '9. Deploy → first result of the new version',
      '9. Invoke throughput, redeployed every second',
      '8. Start to first result, bundles cached',
      '10. Cluster: 3 servers on Redis',
      '10. Cluster: latency Redis adds per task',
      '11. Storage: HTTP submit + long-poll on SQLite',
      '11. Group commit under submit + long-poll',
      '11. Disk: bytes per finished task kept',
    ]) {
      expect(doc).toContain(measure);
    }
    // Every figure came from a run: no row without a number.
    expect(doc).not.toMatch(/\| n\/a \|/);
    expect(run.stdout).toContain('| measure |');
    const svg = readFileSync(join(dir, 'scaling.svg'), 'utf8');
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg.match(/<polyline/g)).toHaveLength(3);
  }, 660_000);
});
