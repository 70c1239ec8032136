/**
 * The command line the server entries read: what the process was started with (`npm start --
 * <flags>`: `process.argv` on Node and Bun, `Deno.args` on Deno), unless `ebbflow serve` hands
 * them its own. Each host keeps its arguments in its own place, so the CLI cannot rewrite one
 * global for all of them.
 * @module
 */

let given: readonly string[] | undefined;

/** `ebbflow serve` passes the flags it was given, before it loads a server entry. */
export const useServerArgs = (argv: readonly string[]): void => {
  given = [...argv];
};

/** The flags for the server: those `ebbflow serve` passed, else the process's own. */
export const serverArgs = (own: readonly string[]): readonly string[] => given ?? own;
