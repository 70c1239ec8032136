/**
 * The network of a function's isolate when `config.permissions.net` grants it: every `fetch`
 * of the isolate comes here (its `globalOutbound`), and goes out only to the hosts granted
 * (`true` grants all). Without a grant the isolate gets no outbound at all (`null`).
 * @module
 */
import { WorkerEntrypoint } from 'cloudflare:workers';
import type {
  Request as WorkerRequest,
  Response as WorkerResponse,
} from '@cloudflare/workers-types/latest/index.ts';

/** Hosts as `name` or `name:port`; `null` grants every host. */
export interface NetGateProps {
  hosts: string[] | null;
}

export class NetGate extends WorkerEntrypoint<unknown, NetGateProps> {
  override async fetch(request: WorkerRequest): Promise<WorkerResponse> {
    const { hosts } = this.ctx.props;
    const url = new URL(request.url);
    if (hosts && !hosts.includes(url.host) && !hosts.includes(url.hostname)) {
      throw new Error(
        `network access to ${url.host} is not granted (config.permissions.net lists ${hosts.join(', ')})`,
      );
    }
    return (await fetch(request as unknown as Request)) as unknown as WorkerResponse;
  }
}

/** The grant of `config.permissions.net` as the gate's hosts, or undefined when not granted. */
export const grantedHosts = (net: boolean | string[] | undefined): NetGateProps | undefined => {
  if (net === true) return { hosts: null };
  if (Array.isArray(net) && net.length > 0) return { hosts: net };
  return undefined;
};
