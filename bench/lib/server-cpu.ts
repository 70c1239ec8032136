/** The CPU time a bench server (bench/http/server.ts) prints when it stops. */
import type { ChildProcess } from 'node:child_process';

/** Sends SIGTERM to `child` and gives the `cpu <ms>` it prints on the way out. */
export const stopAndReadCpuMs = (child: ChildProcess): Promise<number> => {
  const cpu = new Promise<number>((resolve) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      const match = /cpu (\S+)/.exec(chunk.toString());
      if (match) resolve(Number(match[1]));
    });
  });
  child.kill('SIGTERM');
  return cpu;
};
