/**
 * The server `npm start` and `bun run start` run (bunfig.toml makes `bun run` execute
 * package.json scripts with Bun, not Node), through their launcher, start.mjs: it loads the
 * entry of the host it finds itself on. Run by hand, on Node and Bun this process first becomes
 * the launcher itself (launcher.ts).
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
