/**
 * A message for anything a function throws, the same on every host: an Error's own message,
 * prefixed with its class unless it is a plain `Error` (`RangeError: n must be ...`), or a
 * description of a thrown value that is not an Error.
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

/** A message for anything thrown: an Error's own, or a description of a non-Error value. */
export const describeThrown = (error: unknown): string => {
  if (error instanceof Error) {
    // Deno colours the locations inside some messages (module load errors); callers get text.
    const message = error.message.replace(ANSI_COLOUR, '') + where(error);
    return error.name && error.name !== 'Error' ? `${error.name}: ${message}` : message;
  }
  let shown: string;
  try {
    shown = typeof error === 'string' ? error : (JSON.stringify(error) ?? String(error));
  } catch {
    shown = String(error);
  }
  return `the function failed with a non-Error value: ${shown}`;
};
