#!/usr/bin/env node
/**
 * The `ebbflow` binary: runs a subcommand; failures print one line and exit with a code that
 * says which kind (see `EXIT` in http.ts). Help goes without colours unless to a terminal.
 * @module
 */
import { type ArgsDef, type CommandDef, renderUsage, runCommand, runMain } from 'citty';
import { VERSION } from '../api/version.ts';
import { ebbflow } from './commands.ts';
import { CliFailure, EXIT } from './http.ts';
import { colours, plain } from './output.ts';

const rawArgs = process.argv.slice(2);
const showUsage = async <T extends ArgsDef = ArgsDef>(
  cmd: CommandDef<T>,
  parent?: CommandDef<T>,
): Promise<void> => {
  const usage = await renderUsage(cmd, parent);
  console.log(`${colours() ? usage : plain(usage)}\n`);
};

if (rawArgs[0] === '--version' || rawArgs[0] === '-v') {
  console.log(`ebbflow ${VERSION}`);
} else if (rawArgs.length === 0 || rawArgs.some((arg) => arg === '--help' || arg === '-h')) {
  await runMain(ebbflow, { rawArgs: rawArgs.length === 0 ? ['--help'] : rawArgs, showUsage });
} else {
  try {
    await runCommand(ebbflow, { rawArgs });
  } catch (error) {
    if (error instanceof CliFailure) {
      console.error(`ebbflow: ${error.message}`);
      process.exitCode = error.exitCode;
    } else if ((error as Error).name === 'CLIError') {
      console.error(`ebbflow: ${(error as Error).message} (see ebbflow --help)`);
      process.exitCode = EXIT.usage;
    } else {
      console.error(error);
      process.exitCode = EXIT.failed;
    }
  }
}
