/**
 * The `ebbflow` command and its subcommands. A new subcommand is one line here (the `types`
 * generator of the typed client registers itself the same way).
 * @module
 */
import { defineCommand, type SubCommandsDef } from 'citty';
import { VERSION } from '../api/version.ts';

export const SUBCOMMANDS: SubCommandsDef = {
  init: () => import('./init.ts').then((m) => m.initCommand),
  serve: () => import('./serve.ts').then((m) => m.serve),
  deploy: () => import('./functions.ts').then((m) => m.deploy),
  rm: () => import('./functions.ts').then((m) => m.rm),
  ls: () => import('./functions.ts').then((m) => m.ls),
  versions: () => import('./functions.ts').then((m) => m.versions),
  rollback: () => import('./functions.ts').then((m) => m.rollback),
  invoke: () => import('./tasks.ts').then((m) => m.invoke),
  submit: () => import('./tasks.ts').then((m) => m.submit),
  result: () => import('./tasks.ts').then((m) => m.result),
  cancel: () => import('./tasks.ts').then((m) => m.cancel),
  tasks: () => import('./tasks.ts').then((m) => m.tasks),
  retry: () => import('./tasks.ts').then((m) => m.retry),
  logs: () => import('./tasks.ts').then((m) => m.logs),
  types: () => import('./types.ts').then((m) => m.typesCommand),
};

export const ebbflow = defineCommand({
  meta: {
    name: 'ebbflow',
    version: VERSION,
    description: 'serverless-style functions: serve a folder, deploy by name, run tasks',
  },
  subCommands: SUBCOMMANDS,
});
