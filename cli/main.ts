#!/usr/bin/env node
/**
 * The `ebbflow` binary: runs a subcommand; failures print one line and exit with a code that
 * says which kind (see `EXIT` in http.ts).
 * @module
 */
import { runCommand, runMain } from 'citty';
import { ebbflow } from './commands.ts';
import { CliFailure, EXIT } from './http.ts';

const rawArgs = process.argv.slice(2);
if (rawArgs.length === 0 || rawArgs.some((arg) => arg === '--help' || arg === '-h')) {
  await runMain(ebbflow, { rawArgs: rawArgs.length === 0 ? ['--help'] : rawArgs });
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
