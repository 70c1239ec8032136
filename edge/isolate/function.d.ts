/**
 * The compiled function beside the isolate's main module (`function.js` in the Worker Loader's
 * modules): its exports are read as unknowns and checked before use.
 */
export declare const config: unknown;
export declare const fetch: unknown;
declare const run: unknown;
export default run;
