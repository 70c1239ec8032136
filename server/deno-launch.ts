/**
 * `deno task start` runs this launcher with only what it needs (the variables that decide the
 * grants, the secrets, and running Deno): it reads the settings and starts the server (deno.ts)
 * with the grants derived from them (deno-grants.ts), so a functions folder or an address
 * anywhere gets exactly its own permission and nothing more. The secrets (the tokens, the Redis
 * address) are taken out of the environment the server starts with and written on its stdin
 * (server/launch.mjs). It relays SIGTERM/SIGINT and the exit code.
 * @module
 */

import {
  DENO_BIN,
  denoCommand,
  denoFlags,
  denoGrants,
  LAUNCHER_ENV,
  listenSettings,
  PROJECT_ROOT,
  SECRETS,
  unlistable,
} from './deno-grants.ts';
import { HANDED_ENV, handOver } from './launch.mjs';
import { SettingsError } from './settings.ts';

interface Child {
  pid: number;
  stdin: WritableStream<Uint8Array>;
  stderr: ReadableStream<Uint8Array>;
  status: Promise<{ code: number }>;
  kill(signal: string): void;
}

interface DenoApi {
  args: string[];
  env: { get(name: string): string | undefined; delete(name: string): void };
  cwd(): string;
  stderr: { write(bytes: Uint8Array): Promise<number> };
  Command: new (
    command: string,
    options: {
      args: string[];
      env: Record<string, string>;
      stdin: 'piped';
      stdout: 'inherit';
      stderr: 'piped';
    },
  ) => { spawn(): Child };
  addSignalListener(signal: 'SIGTERM' | 'SIGINT', handler: () => void): void;
  exit(code: number): never;
}

const Deno = (globalThis as unknown as { Deno: DenoApi }).Deno;
const root = PROJECT_ROOT;

const fail = (message: string, code: number): never => {
  console.error(`ebbflow: ${message}`);
  return Deno.exit(code);
};

const env = Object.fromEntries(LAUNCHER_ENV.map((name) => [name, Deno.env.get(name)]));
const listen = (): ReturnType<typeof listenSettings> => {
  try {
    return listenSettings(Deno.args, env);
  } catch (error) {
    if (!(error instanceof SettingsError)) throw error;
    return fail(error.message, 2);
  }
};
const grants = denoGrants(listen(), root, Deno.cwd());
const why = unlistable(grants);
if (why) fail(why, 2);

// Out of the environment the server inherits; in memory there, from its stdin.
const secrets: Record<string, string> = {};
for (const name of SECRETS) {
  const value = env[name];
  if (value !== undefined) secrets[name] = value;
  Deno.env.delete(name);
}

const spawn = (): Child => {
  try {
    return new Deno.Command(`${root}/${DENO_BIN}`, {
      args: [
        'run',
        `--config=${root}/deno.json`,
        ...denoFlags(grants),
        `${root}/server/deno.ts`,
        ...Deno.args,
      ],
      env: { [HANDED_ENV]: 'stdin' },
      stdin: 'piped',
      stdout: 'inherit',
      stderr: 'piped',
    }).spawn();
  } catch (error) {
    return fail(
      `cannot start the server (${(error as Error).message}); run: ${denoCommand(grants, root, Deno.args)}`,
      1,
    );
  }
};
const child = spawn();
// Left open: the server watches it to notice when this launcher is gone.
const handing = child.stdin
  .getWriter()
  .write(new TextEncoder().encode(handOver(secrets)))
  .catch(() => {
    // The server is gone before it read it; its exit code follows.
  });

/**
 * Relaying signals exactly once. A signal sent to the whole process group (Ctrl-C,
 * `kill -- -pgid`) reaches the server directly, and reaches this launcher too (from the group,
 * and again relayed by `deno task`): relaying it would count as a second signal and end the
 * drain early. A signal sent to `deno task` alone reaches only this launcher and must be relayed.
 * The server logs each signal it gets (drain.ts: `ebbflow: SIGTERM...`); a logged reaction that
 * no relay of ours explains came from the group, and it answers one signal seen here.
 */
const RELAY_AFTER_MS = 1_000;
/** Copies of one group signal arrive together; two signals a person sends do not. */
const SAME_SIGNAL_MS = 250;
/** Per signal: relays whose reaction is still to come, reactions no relay explains, last seen. */
const relays = new Map<string, number>();
const unexplained = new Map<string, number[]>();
const lastSeen = new Map<string, number>();
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  Deno.addSignalListener(signal, () => {
    const at = Date.now();
    const previous = lastSeen.get(signal) ?? Number.NEGATIVE_INFINITY;
    lastSeen.set(signal, at);
    if (at - previous < SAME_SIGNAL_MS) return;
    setTimeout(() => {
      const direct = unexplained.get(signal) ?? [];
      const answered = direct.findIndex((reaction) => reaction >= at - RELAY_AFTER_MS);
      if (answered >= 0) {
        direct.splice(0, answered + 1);
        return;
      }
      relays.set(signal, (relays.get(signal) ?? 0) + 1);
      try {
        child.kill(signal);
      } catch {
        // Already gone: its exit code follows.
      }
    }, RELAY_AFTER_MS);
  });
}

const reacted = (signal: string): void => {
  const pending = relays.get(signal) ?? 0;
  if (pending > 0) relays.set(signal, pending - 1);
  else unexplained.set(signal, [...(unexplained.get(signal) ?? []), Date.now()]);
};

const relayed = (async () => {
  const decoder = new TextDecoder();
  let line = '';
  for await (const chunk of child.stderr) {
    for (let written = 0; written < chunk.length; ) {
      written += await Deno.stderr.write(chunk.subarray(written));
    }
    const lines = (line + decoder.decode(chunk, { stream: true })).split('\n');
    line = lines.pop() ?? '';
    for (const text of lines) {
      const signal = /^ebbflow: (SIGTERM|SIGINT)\b/.exec(text)?.[1];
      if (signal) reacted(signal);
    }
  }
})();

const status = await child.status;
await relayed;
await handing;
Deno.exit(status.code);
