/**
 * Requests and responses as plain data, so they cross between the server and a worker by
 * structured clone (bodies as bytes; a response body's buffer is transferred, not copied).
 * Used on both sides: the runtime builds `WireRequest`s, the worker `WireResponse`s.
 * @module
 */
import type { WireRequest, WireResponse } from './protocol.ts';

const NO_BODY = new Set(['GET', 'HEAD']);

/** A `Request`, or one already as plain data (the API's `/fn` routes build that directly). */
export const toWireRequest = async (request: Request | WireRequest): Promise<WireRequest> => {
  if (!(request instanceof Request)) {
    return NO_BODY.has(request.method) && request.body ? { ...request, body: null } : request;
  }
  return {
    url: request.url,
    method: request.method,
    headers: [...request.headers],
    body: NO_BODY.has(request.method) ? null : await request.arrayBuffer(),
  };
};

export const fromWireRequest = (wire: WireRequest): Request =>
  new Request(wire.url, {
    method: wire.method,
    headers: wire.headers,
    body: wire.body && wire.body.byteLength > 0 ? wire.body : null,
  });

export const toWireResponse = async (response: Response): Promise<WireResponse> => ({
  status: response.status,
  statusText: response.statusText,
  headers: [...response.headers],
  body: response.body ? await response.arrayBuffer() : null,
});

/** Statuses whose responses carry no body (the Response constructor refuses one). */
const NULL_BODY = new Set([101, 204, 205, 304]);

// The body as a Uint8Array view (no copy): @hono/node-server writes a Response made from bytes
// straight to the socket, but reads one made from an ArrayBuffer through a stream (bench/NOTES.md).
export const fromWireResponse = (wire: WireResponse): Response =>
  new Response(NULL_BODY.has(wire.status) || !wire.body ? null : new Uint8Array(wire.body), {
    status: wire.status,
    statusText: wire.statusText,
    headers: wire.headers,
  });
