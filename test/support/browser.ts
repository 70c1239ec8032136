/**
 * What the browser tests share: Debian's Chromium, launched offline, and a plain HTTP server on
 * loopback for the pages it opens.
 */
import { existsSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export const CHROMIUM = '/usr/bin/chromium';
/** CI installs Chromium (.ci/run); a developer machine without it skips the browser tests. */
export const HAS_CHROMIUM = existsSync(CHROMIUM) || Boolean(process.env.CI);
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
