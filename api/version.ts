/**
 * The package's version, as package.json and deno.json say it (test/package.test.ts keeps the
 * three equal): the OpenAPI document's `info.version`, the CLI's `--version`. A constant rather
 * than a read of package.json, so the Workers bundle carries it too.
 * @module
 */
export const VERSION = '0.1.0';
