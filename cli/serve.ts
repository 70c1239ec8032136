/**
 * `ebbflow serve [folder]`: what `npm start` does, with every setting as a flag (the table in
 * server/settings.ts, which also reads each from its environment variable).
 * @module
 */
import { type ArgsDef, defineCommand } from 'citty';
import { detectHost } from '../runtime/host/detect.ts';
import { useServerArgs } from '../server/argv.ts';
import { serverEnvironment } from '../server/launcher.ts';
import { SETTINGS } from '../server/settings.ts';

const settingArgs: ArgsDef = Object.fromEntries(
  SETTINGS.map((s) => [
    s.flag.slice(2),
    {
      type: 'string',
      description: `${s.doc.replaceAll('`', '')} (${s.env}, default ${s.default || 'unset'})`,
    },
  ]),
);

/** The command line without the folder (it becomes `--functions`): flags all take a value. */
export const withoutFolder = (raw: readonly string[]): { folder?: string; rest: string[] } => {
  for (let i = 0; i < raw.length; i++) {
    const arg = raw[i] as string;
    if (arg.startsWith('-')) {
      if (!arg.includes('=')) i++;
      continue;
    }
    return { folder: arg, rest: [...raw.slice(0, i), ...raw.slice(i + 1)] };
  }
  return { rest: [...raw] };
};

export const serve = defineCommand({
  meta: { name: 'serve', description: 'serve the functions of a folder over HTTP' },
  args: {
    folder: {
      type: 'positional',
      required: false,
      description: 'the functions folder (default: EBBFLOW_FUNCTIONS, else ./functions)',
    },
    ...settingArgs,
  },
  async run({ rawArgs }) {
    // Node and Bun: this process becomes the launcher and runs this command again with a
    // cleaned environment (server/launcher.ts); that child goes on from here.
    if (detectHost() !== 'deno') await serverEnvironment();
    const { folder, rest } = withoutFolder(rawArgs);
    useServerArgs([...(folder ? ['--functions', folder] : []), ...rest]);
    await import('../server/start.ts');
  },
});
