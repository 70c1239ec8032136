/**
 * Watching a functions folder with `node:fs` `watch` (inotify on Linux; Deno maps it to
 * `Deno.watchFs`, which needs read permission on the folder, Bun has its own). The folder is
 * watched, not each file: an editor that saves by writing a temporary file and renaming it over
 * the old one replaces the watched inode, and a per-file watch would go deaf after the first save.
 * @module
 */
import { type FSWatcher, watch } from 'node:fs';

/**
 * Call `changed` once the folder has been quiet for `debounceMs` after a change to a visible
 * file (hidden ones are deploys in progress and the registry's own state). Returns the stop.
 */
export const watchFolder = (dir: string, changed: () => void, debounceMs: number): (() => void) => {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const fire = () => {
    timer = undefined;
    changed();
  };
  // Throws where the host refuses (no permission): the caller says hot reload is off.
  const watcher: FSWatcher = watch(dir, { persistent: false }, (_event, file) => {
    // Some platforms give no file name; then anything may have changed.
    if (typeof file === 'string' && file.startsWith('.')) return;
    if (timer !== undefined) clearTimeout(timer);
    timer = setTimeout(fire, debounceMs);
  });
  // A folder removed under the watcher ends it; the functions keep serving as they were.
  watcher.on('error', () => watcher.close());
  return () => {
    if (timer !== undefined) clearTimeout(timer);
    watcher.close();
  };
};
