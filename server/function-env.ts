/**
 * What a function may be granted of the server's environment (`config.permissions.env`): any
 * variable the server was started with but its own. The server's own (every setting's variable,
 * its tokens and Redis address among them) are reserved: a function that names one is refused,
 * on every host.
 * @module
 */
import { type Env, HANDED_ENV } from './launch.mjs';
import { SETTINGS } from './settings.ts';

/** The server's own variables: every setting's, and the launcher's marker. */
export const reservedVariables = (): string[] => [...SETTINGS.map((s) => s.env), HANDED_ENV];

/** The variables functions may be granted: the server's environment minus its own. */
export const functionVariables = (env: Env): Record<string, string> => {
  const reserved = new Set(reservedVariables());
  const picked: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (value !== undefined && !reserved.has(name)) picked[name] = value;
  }
  return picked;
};

/** The settings whose values are secrets (the Deno launcher hands over these alone). */
export const secretVariables = (): string[] =>
  SETTINGS.filter((s) => s.secret === true).map((s) => s.env);
