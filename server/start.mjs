// @ts-self-types="./start.d.mts"
/**
 * `npm start` and `bun run start`: the launcher (launch.mjs), which starts the server,
 * `server/start.ts`, with tsx's loader and without its secrets in its environment. Plain
 * JavaScript, so the launcher needs no TypeScript loader of its own.
 * @module
 */
import { fileURLToPath } from 'node:url';
import { relaunch } from './launch.mjs';

await relaunch([
  ...process.execArgv,
  '--import',
  'tsx',
  fileURLToPath(new URL('./start.ts', import.meta.url)),
  ...process.argv.slice(2),
]);
