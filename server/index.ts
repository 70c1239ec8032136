/**
 * The server's settings for embedding (`ebbflow/server`): the table every host reads, each
 * setting an environment variable and a CLI flag, and its parser.
 * @example
 * import { parseSettings } from 'ebbflow/server';
 * const settings = parseSettings(process.argv.slice(2), process.env);
 * @module
 */
export { parseSettings, SETTINGS, type SettingSpec, type Settings } from './settings.ts';
