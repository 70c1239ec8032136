/** The address a server started as a child process prints once it listens. */
import type { ChildProcess } from 'node:child_process';

/**
 * Reads `child`'s stdout until `pattern` matches and gives its first group; rejects with what
 * was printed if the server exits first. `child` must have been spawned with stdout piped.
 */
export const readListeningUrl = (child: ChildProcess, pattern: RegExp) =>
  new Promise<string>((resolve, reject) => {
    let seen = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      seen += chunk.toString();
      const match = pattern.exec(seen);
      if (match) resolve(match[1] as string);
    });
    child.once('exit', (code) => reject(new Error(`the server exited with ${code}: ${seen}`)));
  });
