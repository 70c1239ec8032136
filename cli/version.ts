/**
 * The package's version, read from its package.json (one folder up from cli/ in the sources
 * and from dist/ in the package, so the same path serves both).
 * @module
 */
import { createRequire } from 'node:module';

export const VERSION: string = (
  createRequire(import.meta.url)('../package.json') as { version: string }
).version;
