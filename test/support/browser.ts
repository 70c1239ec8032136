/**
 * What the browser tests share: Debian's Chromium, launched offline, and a plain HTTP server on
 * loopback for the pages it opens.
 */
import { existsSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Debian's Chromium (`EBBFLOW_CHROMIUM` points elsewhere, e.g. to check the skip). */
export const CHROMIUM = process.env.EBBFLOW_CHROMIUM ?? '/usr/bin/chromium';

/**
 * Why the browser tests cannot run here, or undefined when they can. CI installs Chromium
 * (.ci/run) and never skips; elsewhere the skip says so in one line per run, however many
 * browser suites there are (each runs in its own process: the first to get here prints it).
 */
export const CHROMIUM_MISSING: string | undefined = (() => {
  if (existsSync(CHROMIUM) || process.env.CI) return undefined;
  const why = `browser tests skipped: no Chromium at ${CHROMIUM} (apt-get install chromium)`;
  try {
    // One marker per test run: the suites' processes share their parent, vitest.
    writeFileSync(join(tmpdir(), `ebbflow-no-chromium-${process.ppid}`), '', { flag: 'wx' });
    console.warn(why);
  } catch {
    // Another suite of this run has said it.
  }
  return why;
})();

export const HAS_CHROMIUM = CHROMIUM_MISSING === undefined;
// Offline: no background traffic, and no DNS look-ups but for loopback.
export const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1',
];

/** Listens on a free port of 127.0.0.1 and gives the server's base URL. */
export const listenOnLoopback = (server: Server) =>
  new Promise<string>((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`),
    ),
  );
