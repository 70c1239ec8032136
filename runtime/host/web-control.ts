/**
 * The few messages a Web Worker host and its worker entry exchange beside comlink's: which module
 * to load (and the worker's name for its lines outside a task), a liveness ping, and a word
 * before the worker exits (Deno reports no exit at all).
 * @module
 */
import type { Endpoint } from 'comlink';

export type ControlMessage =
  | { ebbflow: 'load'; url: string; label: string }
  | { ebbflow: 'ping' }
  | { ebbflow: 'pong' }
  | { ebbflow: 'exit'; via: string; code?: number };

export const isControl = (data: unknown): data is ControlMessage =>
  typeof data === 'object' &&
  data !== null &&
  typeof (data as { ebbflow?: unknown }).ebbflow === 'string';

/** A `Worker` (parent side) or a worker's global scope (inside): both post and dispatch messages. */
export interface MessageTarget {
  postMessage(message: unknown, transfer?: Transferable[]): void;
  addEventListener(type: 'message', listener: (event: MessageEvent) => void): void;
  removeEventListener(type: 'message', listener: (event: MessageEvent) => void): void;
}

type Listener = EventListenerOrEventListenerObject;

/** A comlink endpoint over `target` that hides the control messages from comlink. */
export const comlinkEndpoint = (target: MessageTarget): Endpoint => {
  const wrapped = new WeakMap<Listener, (event: MessageEvent) => void>();
  return {
    postMessage(message: unknown, transfer?: Transferable[]) {
      target.postMessage(message, transfer);
    },
    addEventListener(_type: string, listener: Listener) {
      const forward = (event: MessageEvent) => {
        if (isControl(event.data)) return;
        if (typeof listener === 'function') listener(event);
        else listener.handleEvent(event);
      };
      wrapped.set(listener, forward);
      target.addEventListener('message', forward);
    },
    removeEventListener(_type: string, listener: Listener) {
      const forward = wrapped.get(listener);
      if (forward) target.removeEventListener('message', forward);
      wrapped.delete(listener);
    },
  };
};
