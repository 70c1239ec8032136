/**
 * `npm start` and `bun run start` both run this file (bunfig.toml makes `bun run` execute
 * package.json scripts with Bun, not Node): it loads the entry of the host it finds itself on.
 * @module
 */
import { detectHost } from '../runtime/host/detect.ts';

const host = detectHost();
if (host === 'bun') await import('./bun.ts');
else if (host === 'deno') await import('./deno.ts');
else await import('./node.ts');
