/**
 * TypeScript to JavaScript for servers that run JavaScript only (Cloudflare Workers answer a
 * TypeScript deploy with 415 `javascript_required`): one ES module, its relative imports bundled.
 * @module
 */
import { build } from 'esbuild';
import { CliFailure, EXIT } from './http.ts';

/** Bundle the module at `file` into one ES module for any platform (the edge has no `node:`). */
export const compileModule = async (file: string): Promise<string> => {
  try {
    const out = await build({
      entryPoints: [file],
      bundle: true,
      format: 'esm',
      platform: 'neutral',
      write: false,
      logLevel: 'silent',
    });
    return out.outputFiles[0]?.text ?? '';
  } catch (error) {
    const errors = (error as { errors?: { text: string; location?: { line: number } | null }[] })
      .errors;
    const said = errors?.length
      ? errors.map((e) => (e.location ? `line ${e.location.line}: ${e.text}` : e.text)).join('\n  ')
      : (error as Error).message;
    throw new CliFailure(`cannot compile ${file} to JavaScript:\n  ${said}`, EXIT.failed);
  }
};
