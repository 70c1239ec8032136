/** The types of launch.mjs (the launcher is plain JavaScript, so it starts without tsx). */

/** An environment as `process.env` holds it. */
export type Env = Readonly<Record<string, string | undefined>>;

/** Set (to `stdin`) in the environment of a server its launcher started. */
export declare const HANDED_ENV: 'EBBFLOW_HANDED_ENV';

/** What the launcher says when npm, which started it, went away without passing on a signal. */
export declare const PARENT_GONE: 'the npm process that started it exited';

/** Whether variable `name` stays in the environment of the process that runs functions. */
export declare const isKept: (name: string) => boolean;

/** The environment a launcher starts the server with: the kept variables and the marker. */
export declare const cleanedEnvironment: (env: Env) => Record<string, string>;

/** The line a launcher writes on the server's stdin. */
export declare const handOver: (env: Env) => string;

/** The environment in the first line a launcher wrote; throws on anything else. */
export declare const takeOver: (line: string) => Record<string, string>;

/**
 * Start `process.execPath` with `args` as the server, without its secrets in its environment,
 * and stay only to relay signals and exit with its code: never resolves.
 */
export declare const relaunch: (args: readonly string[]) => Promise<never>;
