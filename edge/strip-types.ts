/**
 * TypeScript at the edge: a deploy of `application/typescript` has its types stripped here, in
 * the Worker, by sucrase (pure JavaScript, about 200 KiB minified; chosen over the WebAssembly
 * builds of swc and esbuild, which are 3.7 and 13 MiB: docs/workers.md has the figures). Only types
 * go: the module's imports, syntax and line structure stay as written.
 * @module
 */
import { transform } from 'sucrase';
import { EbbflowError } from '../runtime/errors.ts';

/** The module as JavaScript; a syntax error is `invalid_function`, as a module that fails to load. */
export const stripTypes = (source: string): string => {
  try {
    return transform(source, { transforms: ['typescript'], disableESTransforms: true }).code;
  } catch (error) {
    throw new EbbflowError(
      'invalid_function',
      `the module failed to load: ${(error as Error).message}`,
    );
  }
};
