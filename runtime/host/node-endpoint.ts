/**
 * A typed comlink endpoint over a `node:worker_threads` port (comlink's own node adapter ships
 * without usable types). Works on both sides: a `Worker` in the parent, `parentPort` inside.
 * @module
 */
import type { Endpoint } from 'comlink';

interface NodePort {
  postMessage(message: unknown, transfer?: readonly Transferable[]): void;
  on(event: 'message', listener: (data: unknown) => void): unknown;
  off(event: 'message', listener: (data: unknown) => void): unknown;
}

type Listener = EventListenerOrEventListenerObject;

export const nodeEndpoint = (port: NodePort): Endpoint => {
  const wrapped = new WeakMap<Listener, (data: unknown) => void>();
  return {
    postMessage: (message: unknown, transfer?: Transferable[]) =>
      port.postMessage(message, transfer),
    addEventListener: (_type: string, listener: Listener) => {
      const forward = (data: unknown) => {
        const event = { data } as MessageEvent;
        if (typeof listener === 'function') listener(event);
        else listener.handleEvent(event);
      };
      port.on('message', forward);
      wrapped.set(listener, forward);
    },
    removeEventListener: (_type: string, listener: Listener) => {
      const forward = wrapped.get(listener);
      if (!forward) return;
      port.off('message', forward);
      wrapped.delete(listener);
    },
  };
};
