/**
 * The `ebbflow` CLI against a real Node server (the tokens set): what it prints, with and
 * without `--json`, and its exit codes for success, a failed task, each refusal, a bad command
 * line and an unreachable server.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { compileModule } from '../cli/compile.ts';
import { CliFailure } from '../cli/http.ts';
import { NODE, ROOT, type Server, startServer } from './support/server.ts';

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

const cli = (args: string[], env: Record<string, string> = {}): Promise<Ran> =>
  new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', join(ROOT, 'cli/main.ts'), ...args],
      {
        cwd: ROOT,
        env: {
          ...process.env,
          NO_COLOR: '1',
          EBBFLOW_URL: '',
          EBBFLOW_TOKEN: '',
          EBBFLOW_ADMIN_TOKEN: '',
          ...env,
        },
      },
      (error, stdout, stderr) =>
        resolve({ code: (error as { code?: number } | null)?.code ?? 0, stdout, stderr }),
    );
  });

describe('the ebbflow CLI', () => {
  let dir: string;
  let server: Server;
  let as: { invoker: Record<string, string>; admin: Record<string, string> };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ebbflow-cli-'));
    await writeFile(join(dir, 'hello.ts'), 'export default (name: string) => "hello " + name;\n');
    await writeFile(join(dir, 'broken.ts'), 'export default () => {\n  return (;\n};\n');
    await writeFile(join(dir, 'boom.js'), 'export default () => { throw new Error("boom"); };\n');
    await mkdir(join(dir, 'functions'));
    server = await startServer(NODE, {
      EBBFLOW_FUNCTIONS: join(dir, 'functions'),
      EBBFLOW_MIN_WORKERS: '0',
      EBBFLOW_TOKEN: 'cli-invoke',
      EBBFLOW_ADMIN_TOKEN: 'cli-admin',
    });
    as = {
      invoker: { EBBFLOW_URL: server.url, EBBFLOW_TOKEN: 'cli-invoke' },
      admin: { EBBFLOW_URL: server.url, EBBFLOW_ADMIN_TOKEN: 'cli-admin' },
    };
  }, 120_000);

  afterAll(async () => {
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('Should deploy, list, invoke, submit, wait for a result and remove', async () => {
    const deployed = await cli(['deploy', join(dir, 'hello.ts')], as.admin);
    expect(deployed).toMatchObject({ code: 0 });
    expect(deployed.stdout).toMatch(/^deployed hello version 1 \(sha256 [0-9a-f]{12}, \d+ bytes\)/);
    const again = await cli(['deploy', join(dir, 'hello.ts'), '--name', 'hi', '--json'], as.admin);
    expect(JSON.parse(again.stdout)).toMatchObject({ name: 'hi', version: 1, status: 'ready' });
    const listed = await cli(['ls'], as.invoker);
    expect(listed.stdout).toMatch(/^NAME\s+STATUS\s+VERSION/);
    expect(listed.stdout).toMatch(/\nhello\s+ready\s+1\s/);
    const invoked = await cli(['invoke', 'hello', 'Ada'], as.invoker);
    expect(invoked).toMatchObject({ code: 0, stdout: '"hello Ada"\n' });
    const id = (await cli(['submit', 'hello', '"Bo"', '--id', 'cli-task-1'], as.invoker)).stdout;
    expect(id).toBe('cli-task-1\n');
    const result = await cli(['result', 'cli-task-1', '--wait', '20000', '--json'], as.invoker);
    expect(JSON.parse(result.stdout)).toMatchObject({ status: 'completed', result: 'hello Bo' });
    const removed = await cli(['rm', 'hi'], as.admin);
    expect(removed).toMatchObject({ code: 0, stdout: 'deleted hi (it was version 1)\n' });
  }, 60_000);

  it('Should exit 1 when the task fails, printing its error', async () => {
    expect((await cli(['deploy', join(dir, 'boom.js')], as.admin)).code).toBe(0);
    const failed = await cli(['invoke', 'boom'], as.invoker);
    expect(failed.code).toBe(1);
    expect(failed.stdout).toMatch(/^task \S+ failed in [\d.]+ ms: boom/);
  }, 30_000);

  it('Should explain a refused deploy: 422 with the line, 403 for the invoke token, 401 without one', async () => {
    const broken = await cli(['deploy', join(dir, 'broken.ts')], as.admin);
    expect(broken.code).toBe(1);
    expect(broken.stderr).toMatch(
      /deploy broken: the server refused the function \(422 \[invalid_function\]\)/,
    );
    expect(broken.stderr).toMatch(/line 2/);
    const invoker = await cli(['deploy', join(dir, 'hello.ts')], as.invoker);
    expect(invoker).toMatchObject({ code: 1 });
    expect(invoker.stderr).toMatch(/forbidden \(403 \[forbidden\]\)/);
    const none = await cli(['ls'], { EBBFLOW_URL: server.url });
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/needs a token \(401\); pass --token or set EBBFLOW_TOKEN/);
  }, 30_000);

  it('Should say 404 for an unknown task or function', async () => {
    const task = await cli(['result', 'no-such-task'], as.invoker);
    expect(task.code).toBe(1);
    expect(task.stderr).toMatch(/not found \(404 \[unknown_task\]\)/);
    const fn = await cli(['rm', 'no-such-function'], as.admin);
    expect(fn.stderr).toMatch(/not found \(404 \[unknown_function\]\)/);
  });

  it('Should exit 3 when no server answers, and 2 for a bad command line', async () => {
    const unreachable = await cli(['ls', '--url', 'http://127.0.0.1:9']);
    expect(unreachable.code).toBe(3);
    expect(unreachable.stderr).toMatch(
      /cannot reach the ebbflow server at http:\/\/127\.0\.0\.1:9/,
    );
    const unknown = await cli(['frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/Unknown command/);
    const missing = await cli(['invoke'], as.invoker);
    expect(missing.code).toBe(2);
    const badFile = await cli(['deploy', join(dir, 'notes.txt')], as.admin);
    expect(badFile).toMatchObject({ code: 2 });
  });
});

describe('the CLI compiling TypeScript for servers that run JavaScript only', () => {
  it('Should bundle a module and its relative imports into one plain ES module', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ebbflow-compile-'));
    onTestFinished(() => rm(dir, { recursive: true, force: true }));
    await writeFile(
      join(dir, 'main.ts'),
      'import { twice } from "./twice.ts";\nexport const config = { timeoutMs: 500 };\nexport default (n: number): number => twice(n) + 1;\n',
    );
    await writeFile(join(dir, 'twice.ts'), 'export const twice = (n: number): number => n * 2;\n');
    const js = await compileModule(join(dir, 'main.ts'));
    expect(js).not.toMatch(/: number|\bimport\b/);
    const mod = await import(`data:text/javascript,${encodeURIComponent(js)}`);
    expect(mod.default(20)).toBe(41);
    expect(mod.config).toEqual({ timeoutMs: 500 });
  });

  it('Should name the line of a syntax error', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ebbflow-compile-'));
    onTestFinished(() => rm(dir, { recursive: true, force: true }));
    await writeFile(join(dir, 'broken.ts'), 'export default () => {\n  return (;\n};\n');
    const failure = await compileModule(join(dir, 'broken.ts')).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(CliFailure);
    expect((failure as CliFailure).message).toMatch(/cannot compile .*broken\.ts[\s\S]*line 2:/);
  });
});
