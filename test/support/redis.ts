/**
 * A private `redis-server` for a test: a free loopback port, no persistence, stopped after.
 * Debian's `redis-server` must be installed (`.ci/run` installs it); `REDIS_MISSING` tells the
 * tests that can skip without it.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createServer, Socket } from 'node:net';

/**
 * Why Redis tests cannot run here (no `redis-server`), printed once as the one line a skip
 * shows; undefined when they can. With `EBBFLOW_REQUIRE_REDIS=1` (CI) it stays undefined, so
 * the tests run and fail instead of passing by skipping.
 */
export const REDIS_MISSING: string | undefined = (() => {
  if (process.env.EBBFLOW_REQUIRE_REDIS === '1') return undefined;
  if (spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).error === undefined) {
    return undefined;
  }
  const why = 'Redis tests skipped: no redis-server here (apt-get install redis-server)';
  console.warn(why);
  return why;
})();

export interface RedisServer {
  port: number;
  url: string;
  /** Stop it (SIGKILL: a test of a lost Redis wants it gone at once). */
  stop(): Promise<void>;
  /** Start it again on the same port (empty: persistence is off). */
  restart(): Promise<void>;
  /** Freeze it (SIGSTOP): connections stay open, nothing is answered. */
  pause(): void;
  /** Let it run again (SIGCONT): it answers what it was sent meanwhile. */
  resume(): void;
}

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });

const accepts = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = new Socket();
    socket.once('error', () => resolve(false));
    socket.connect(port, '127.0.0.1', () => {
      socket.destroy();
      resolve(true);
    });
  });

const launch = async (port: number): Promise<ChildProcess> => {
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' },
  );
  let failed: Error | undefined;
  child.once('error', (error) => {
    failed = error;
  });
  const deadline = Date.now() + 15_000;
  while (!(await accepts(port))) {
    if (failed)
      throw new Error(
        `redis-server did not start (apt-get install redis-server): ${failed.message}`,
      );
    if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}`);
    if (Date.now() > deadline) throw new Error(`redis-server did not listen on ${port}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return child;
};

const kill = (child: ChildProcess) =>
  new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });

export const startRedis = async (): Promise<RedisServer> => {
  const port = await freePort();
  let child = await launch(port);
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    stop: async () => {
      child.kill('SIGCONT');
      await kill(child);
    },
    restart: async () => {
      await kill(child);
      child = await launch(port);
    },
    pause: () => {
      child.kill('SIGSTOP');
    },
    resume: () => {
      child.kill('SIGCONT');
    },
  };
};

/** A loopback port with nothing listening (for "unreachable" tests). */
export const deadRedisUrl = async () => `redis://127.0.0.1:${await freePort()}`;
