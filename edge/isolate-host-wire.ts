/**
 * The wire between the Worker (and its Durable Objects) and the isolate host of
 * `npm run dev:workers`: plain HTTP over a service binding. `POST /load` hands the host an
 * `IsolateSpec`; a call is the request for the isolate itself, sent to `/call` with the headers
 * below (removed again before the isolate sees it). The host answers a call for an isolate it
 * does not hold (it restarted) with 404 and `x-ebbflow-isolate-unknown`, and a call that threw
 * with 502 and `x-ebbflow-isolate-error`, the message as its body. A call whose connection was lost
(the host closes idle connections after 5 s, and a call can meet one closing) is sent once more
with its id: the host runs it only if it never began in this life of the host.
 * @module
 */

export const HOST_PATHS = { load: '/load', call: '/call', health: '/health' } as const;

export const HOST_HEADERS = {
  /** The isolate's id. */
  id: 'x-ebbflow-isolate-id',
  /** Its entrypoint (unset: the default one). */
  entrypoint: 'x-ebbflow-isolate-entrypoint',
  /** The call's CPU limit in ms (unset: none). */
  cpuMs: 'x-ebbflow-isolate-cpu-ms',
  /** The URL the isolate is sent. */
  url: 'x-ebbflow-isolate-url',
  /** On an answer: the host does not hold that isolate. */
  unknown: 'x-ebbflow-isolate-unknown',
  /** On an answer: the call threw; the body is the message. */
  error: 'x-ebbflow-isolate-error',
  /** A call's own id: the host runs each at most once. */
  call: 'x-ebbflow-isolate-call',
  /**
   * On an answer: the life of the host that gave it. On a call sent again after its connection
   * was lost: the life the caller sent it to first.
   */
  epoch: 'x-ebbflow-isolate-epoch',
  /** On an answer: a call sent again that may have begun before (it is not run twice). */
  lost: 'x-ebbflow-isolate-lost',
} as const;

/** Every header of the wire: none reaches an isolate, whatever a caller sent. */
export const WIRE_HEADERS: readonly string[] = Object.values(HOST_HEADERS);
