/**
 * The way out of a function's isolate: the loopback to this Worker's `NetGate` entrypoint, which
 * lets through only the hosts the function's config lists.
 * @module
 */
import type { Outbound } from './isolate-loader.ts';

/** The loopback to this Worker's `NetGate` entrypoint, with the function's hosts as props. */
export const gateOf =
  (ctx: { exports?: unknown }): Outbound =>
  (gate) =>
    (ctx.exports as { NetGate: (options: { props: unknown }) => unknown }).NetGate({ props: gate });
