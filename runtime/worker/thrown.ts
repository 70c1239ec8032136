/**
 * A message for anything a function throws, the same on every host: an Error's own message,
 * prefixed with its class unless it is a plain `Error` (`RangeError: n must be ...`), or a
 * description of a thrown value that is not an Error. Deno's sandbox refusals say how a function
 * is granted what was refused (its `config.permissions`), not which flag to restart with.
 * @module
 */

/** Bun's syntax errors keep the place apart (`position`); the message alone has no line. */
const where = (error: Error): string => {
  const line = (error as { position?: { line?: unknown } }).position?.line;
  return typeof line === 'number' && !error.message.includes(`line ${line}`)
    ? ` (line ${line})`
    : '';
};
const ANSI_COLOUR = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g');

/**
 * Deno's sandbox refusal tells to run the process again with a flag; a function gets the grant
 * from its own `config.permissions` instead (the server needs to hold it too: a worker asking
 * for more is refused at start, with the command that grants it).
 */
const DENO_FLAG_HINT = /^(Requires (\w+) access to (.*?)), run again with the --allow-\w+ flag$/;

const sandboxHint = (message: string): string => {
  const found = DENO_FLAG_HINT.exec(message);
  if (!found) return message;
  const [, refused, kind, what] = found;
  const example = what ? `[${what.startsWith('"') ? what : JSON.stringify(what)}]` : 'true';
  return `${refused}: a function is granted it by its config, e.g. export const config = { permissions: { ${kind}: ${example} } } (config.permissions.${kind}, docs/runtimes.md)`;
};

/** `read()`, or `fallback` when reading throws (a getter, a Proxy trap, a `toString`). */
const attempt = <T>(read: () => T, fallback: T): T => {
  try {
    return read();
  } catch {
    return fallback;
  }
};

/**
 * A message for anything thrown: an Error's own, or a description of a non-Error value. Never
 * throws, whatever was thrown (a Proxy whose traps throw, an object whose `toString` throws), so
 * a throw stays `function_threw` and never ends the worker.
 */
export const describeThrown = (error: unknown): string =>
  attempt(
    () => {
      if (error instanceof Error) {
        // Deno colours the locations inside some messages (module load errors); callers get text.
        let message = String(error.message).replace(ANSI_COLOUR, '') + where(error);
        const name = String(error.name);
        if (name === 'NotCapable') message = sandboxHint(message);
        return name && name !== 'Error' ? `${name}: ${message}` : message;
      }
      const shown =
        typeof error === 'string'
          ? error
          : (attempt(() => JSON.stringify(error), undefined) ??
            attempt(() => String(error), undefined));
      return `the function failed with a non-Error value: ${shown ?? `${typeof error} that cannot be shown`}`;
    },
    `the function failed with a value that cannot be shown (${typeof error})`,
  );
