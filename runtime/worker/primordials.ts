/**
 * What the worker's own code uses after a function module has loaded, taken when this file is
 * evaluated: before any function code runs (each worker entry imports the module only once
 * `init` has set up the port and the timing table). A function may replace globals at load
 * (`Float64Array`, `performance.now`, `MessagePort.prototype.postMessage`, MessageEvent's `data`
 * getter) and thereby see every object passed through them; through these copies it never sees
 * the results port, the timing table or the clock the worker reports with.
 * @module
 */

const apply = Reflect.apply;
const performanceNow = performance.now.bind(performance);
const origin = performance.timeOrigin;
const postMessageOf = MessagePort.prototype.postMessage;
// A getter on the prototype in Node and Bun, an own field in Deno (which a page cannot reach).
const dataGetter = Object.getOwnPropertyDescriptor(MessageEvent.prototype, 'data')?.get;
const NO_TRANSFER: Transferable[] = [];

/** Epoch milliseconds, from the clock as it was when the worker started. */
export const now = (): number => origin + performanceNow();

export const isArray: (value: unknown) => value is unknown[] = Array.isArray;

export const Float64 = Float64Array;

export const setTimer = setInterval;
export const clearTimer = clearInterval;

/** `port.postMessage(message, transfer)` by the method the worker started with. */
export const postOn = (port: MessagePort, message: unknown, transfer?: Transferable[]): void => {
  apply(postMessageOf, port, [message, transfer ?? NO_TRANSFER]);
};

/** `event.data` by the getter the worker started with. */
export const dataOf = (event: MessageEvent): unknown =>
  dataGetter ? apply(dataGetter, event, []) : event.data;
