/**
 * The hosts for embedding (`ebbflow/hosts`): functions from a folder, and the worker host of the
 * runtime this process runs on (loaded on demand, so Deno and Bun never load the Node bundler).
 * @module
 */
export { type DefaultHostOptions, defaultHost, detectHost, type HostName } from './detect.ts';
export { type FolderSourceOptions, folderSource } from './fs-source.ts';
export { sqliteDriver, sqliteStore } from './sqlite.ts';
