/**
 * `npm start` and `bun run start` both run this file (bunfig.toml makes `bun run` execute
 * package.json scripts with Bun, not Node): it loads the entry of the host it finds itself on.
 * On Node and Bun this process first becomes the launcher (launcher.ts): it starts the server
 * again with a cleaned environment and stays only to relay signals and the exit code; it loads
 * nothing else, so the extra process costs little.
 * @module
 */
import { detectHost } from '../runtime/host/detect.ts';
import { serverEnvironment } from './launcher.ts';

const host = detectHost();
if (host === 'deno') {
  // `deno task start` runs deno-launch.ts, Deno's launcher; this is a start by hand.
  await import('./deno.ts');
} else {
  await serverEnvironment();
  if (host === 'bun') await import('./bun.ts');
  else await import('./node.ts');
}
