/**
 * The `ebbflow` CLI against a real Node server (the tokens set): what it prints, with and
 * without `--json`, and its exit codes for success, a failed task, each refusal, a bad command
 * line and an unreachable server; its version, help without colours when piped, `init`, the
 * task commands (`tasks`, `retry`, `logs`), versions and rollback, and `deploy --check`.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { compileModule } from '../cli/compile.ts';
import { CliFailure } from '../cli/http.ts';
import { colours } from '../cli/output.ts';
import { NODE, ROOT, type Server, startServer } from './support/server.ts';
import { until } from './support/wait.ts';

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

const cli = (args: string[], env: Record<string, string> = {}, cwd = ROOT): Promise<Ran> =>
  new Promise((resolve) => {
    execFile(
      process.execPath,
      // tsx by its path: a test may run the CLI from a folder that has no node_modules.
      ['--import', import.meta.resolve('tsx'), join(ROOT, 'cli/main.ts'), ...args],
      {
        cwd,
        env: {
          ...process.env,
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

  it('Should say it listens with no functions yet, on which runtime, without a dangling colon', () => {
    const line = server
      .output()
      .split('\n')
      .find((l) => l.includes('listening on')) as string;
    expect(line).toMatch(
      /^ebbflow listening on http:\/\/127\.0\.0\.1:\d+ \(Node \d+\.\d+\.\d+\) with no functions yet \(add a module to \S+, or deploy one\)$/,
    );
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
    expect(none.stderr).toMatch(/needs a token \(401\); pass --token or set EBBFLOW_TOKEN$/m);
    // Deploys take the admin token: that is the variable the hint names.
    const anonymous = await cli(['deploy', join(dir, 'hello.ts')], { EBBFLOW_URL: server.url });
    expect(anonymous.stderr).toMatch(
      /needs a token \(401\); pass --token or set EBBFLOW_ADMIN_TOKEN$/m,
    );
    expect(invoker.stderr).toContain('set EBBFLOW_ADMIN_TOKEN');
  }, 30_000);

  it('Should list tasks, retry a failed one, and print what a task logged', async () => {
    await writeFile(
      join(dir, 'noisy.ts'),
      'export default (n: number) => { console.log("working on", n); console.warn("careful"); if (n < 0) throw new Error("negative"); return n; };\n',
    );
    expect((await cli(['deploy', join(dir, 'noisy.ts')], as.admin)).code).toBe(0);
    const id = (await cli(['submit', 'noisy', '-1', '--id', 'cli-noisy-1'], as.invoker)).stdout;
    expect(id).toBe('cli-noisy-1\n');
    const logs = await cli(['logs', 'cli-noisy-1', '--wait', '20000'], as.invoker);
    expect(logs).toMatchObject({ code: 0 });
    expect(logs.stdout).toMatch(
      /^\d{4}-\d\d-\d\dT\S+Z log {3}working on -1\n\S+ warn {2}careful\n$/,
    );
    const listed = await cli(['tasks', '--function', 'noisy', '--status', 'failed'], as.invoker);
    expect(listed.stdout).toMatch(/^ID\s+FUNCTION\s+STATUS\s+VERSION\s+SUBMITTED\s+RAN\s+ERROR\n/);
    expect(listed.stdout).toMatch(
      /\ncli-noisy-1\s+noisy\s+failed\s+1\s+\S+\s+[\d.]+ ms\s+function_threw\n/,
    );
    // A negative number is an argument, not a flag.
    const negative = JSON.parse(
      (await cli(['invoke', 'noisy', '-2.5', '--json'], as.invoker)).stdout,
    );
    expect(negative.logs[0].message).toBe('working on -2.5');
    const again = await cli(['retry', 'cli-noisy-1'], as.invoker);
    expect(again.code).toBe(0);
    const retried = await cli(
      ['result', again.stdout.trim(), '--wait', '20000', '--json'],
      as.invoker,
    );
    expect(JSON.parse(retried.stdout)).toMatchObject({ status: 'failed', retryOf: 'cli-noisy-1' });
    const done = JSON.parse((await cli(['invoke', 'noisy', '3', '--json'], as.invoker)).stdout);
    const notFailed = await cli(['retry', done.id], as.invoker);
    expect(notFailed).toMatchObject({ code: 1 });
    expect(notFailed.stderr).toMatch(/not_retryable/);
    const badStatus = await cli(['tasks', '--status', 'lost'], as.invoker);
    expect(badStatus.code).toBe(2);
  }, 60_000);

  it('Should follow the lines functions print, live', async () => {
    const follow = execFile(
      process.execPath,
      ['--import', 'tsx', join(ROOT, 'cli/main.ts'), 'logs', '--follow', '--function', 'noisy'],
      { cwd: ROOT, env: { ...process.env, ...as.invoker } },
    );
    onTestFinished(() => {
      follow.kill();
    });
    let out = '';
    follow.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    // Lines printed after the stream opened: keep invoking until one arrives.
    await until(async () => {
      await cli(['invoke', 'noisy', '7'], as.invoker);
      return out.includes('working on 7');
    }, 30_000);
    expect(out).toMatch(/^noisy \S+Z log {3}working on 7$/m);
  }, 60_000);

  it('Should roll back, list versions, and make no version of an identical deploy', async () => {
    await writeFile(join(dir, 'flip.ts'), 'export default () => "one";\n');
    expect((await cli(['deploy', join(dir, 'flip.ts')], as.admin)).code).toBe(0);
    const same = await cli(['deploy', join(dir, 'flip.ts')], as.admin);
    expect(same.stdout).toMatch(
      /^unchanged flip version 1 \(sha256 [0-9a-f]{12}\): that source serves already\n$/,
    );
    await writeFile(join(dir, 'flip.ts'), 'export default () => "two";\n');
    expect((await cli(['deploy', join(dir, 'flip.ts')], as.admin)).stdout).toMatch(
      /^updated flip version 2 /,
    );
    const listed = await cli(['versions', 'flip'], as.invoker);
    expect(listed.stdout).toMatch(
      /^VERSION\s+SERVING\s+DEPLOYED\s+BYTES\s+SHA256\n2\s+yes\s+\S+\s+\d+\s+[0-9a-f]{12}\n1\s+\S+\s+\d+\s+[0-9a-f]{12}\n$/,
    );
    const back = await cli(['rollback', 'flip'], as.admin);
    expect(back.stdout).toMatch(/^rolled back flip to version 1 \(sha256 [0-9a-f]{12}\)\n$/);
    expect((await cli(['invoke', 'flip'], as.invoker)).stdout).toBe('"one"\n');
    const none = await cli(['rollback', 'flip'], as.admin);
    expect(none).toMatchObject({ code: 1 });
    expect(none.stderr).toMatch(/no_previous_version/);
    expect((await cli(['rollback', 'flip', '2'], as.admin)).stdout).toMatch(/to version 2 /);
    expect((await cli(['rollback', 'flip', '2'], as.admin)).stdout).toBe(
      'unchanged flip: version 2 serves already\n',
    );
    expect((await cli(['rollback', 'flip', 'two'], as.admin)).code).toBe(2);
    expect((await cli(['rollback', 'flip'], as.invoker)).stderr).toContain('EBBFLOW_ADMIN_TOKEN');
  }, 60_000);

  it('Should type-check with --check before deploying, and deploy nothing on a type error', async () => {
    await writeFile(join(dir, 'typed.ts'), 'export default (n: number): string => n;\n');
    const refused = await cli(['deploy', join(dir, 'typed.ts'), '--check'], as.admin);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(
      /typed\.ts has type errors \(tsc \d+\.\d+\.\d+\); nothing was deployed:/,
    );
    expect(refused.stderr).toMatch(/TS2322/);
    expect((await cli(['ls'], as.invoker)).stdout).not.toMatch(/\ntyped\s/);
    // Without --check the types are stripped, not checked: the same module deploys.
    expect((await cli(['deploy', join(dir, 'typed.ts')], as.admin)).code).toBe(0);
    await writeFile(join(dir, 'typed.ts'), 'export default (n: number): string => String(n);\n');
    expect((await cli(['deploy', join(dir, 'typed.ts'), '--check'], as.admin)).stdout).toMatch(
      /^updated typed version 2/,
    );
    // A project without TypeScript is told how to get it, and nothing is deployed.
    const bare = await mkdtemp(join(tmpdir(), 'ebbflow-no-ts-'));
    onTestFinished(() => rm(bare, { recursive: true, force: true }));
    const without = await cli(['deploy', join(dir, 'typed.ts'), '--check'], as.admin, bare);
    expect(without.code).toBe(2);
    expect(without.stderr).toMatch(/npm install --save-dev typescript/);
  }, 60_000);

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

describe('the CLI without a server', () => {
  it('Should print its version', async () => {
    const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as {
      version: string;
    };
    for (const flag of ['--version', '-v']) {
      expect(await cli([flag])).toMatchObject({ code: 0, stdout: `ebbflow ${pkg.version}\n` });
    }
  });

  it('Should print help without colours into a pipe, NO_COLOR or not', async () => {
    for (const env of [{ NO_COLOR: '' }, { NO_COLOR: 'true' }]) {
      const help = await cli(['--help'], env);
      expect(help.code).toBe(0);
      expect(help.stdout).toMatch(/^USAGE ebbflow init\|serve\|deploy/m);
      expect(help.stdout).not.toContain('\u001b[');
      const sub = await cli(['deploy', '--help'], env);
      expect(sub.stdout).toContain('--check');
      expect(sub.stdout).not.toContain('\u001b[');
    }
    // To a terminal, colours, unless NO_COLOR is set to anything or TERM is dumb.
    expect(colours({ isTTY: true }, {})).toBe(true);
    expect(colours({ isTTY: true }, { NO_COLOR: 'true' })).toBe(false);
    expect(colours({ isTTY: true }, { TERM: 'dumb' })).toBe(false);
    expect(colours({ isTTY: false }, {})).toBe(false);
  });

  it('Should start a project with init, and leave what exists alone', async () => {
    const project = await mkdtemp(join(tmpdir(), 'ebbflow-init-'));
    onTestFinished(() => rm(project, { recursive: true, force: true }));
    await writeFile(join(project, '.gitignore'), 'node_modules');
    const first = await cli(['init'], {}, project);
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/^wrote functions\/hello\.ts\nwrote \.gitignore\n/);
    expect(first.stdout).toContain('npx ebbflow serve ./functions');
    expect(await readFile(join(project, '.gitignore'), 'utf8')).toMatch(
      /^node_modules\n# ebbflow: .*\n\.ebbflow\/\n$/,
    );
    const hello = await import(join(project, 'functions/hello.ts'));
    expect(hello.default('Ada')).toBe('hello Ada');
    await writeFile(join(project, 'functions/hello.ts'), 'export default () => "mine";\n');
    const second = await cli(['init'], {}, project);
    expect(second.stdout).toMatch(
      /^kept functions\/hello\.ts \(it exists\)\nkept \.gitignore \(it exists\)\n/,
    );
    expect(await readFile(join(project, 'functions/hello.ts'), 'utf8')).toContain('mine');
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
