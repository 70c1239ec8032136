/** The naming rules of the contract, shared by the registry, the runtime and the HTTP API. */

/** A function name: the module's file name without its extension. */
export const FUNCTION_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

/** A client-chosen task id: 1-128 of `[A-Za-z0-9._:-]`, not made of dots alone. */
export const TASK_ID = /^(?!\.+$)[A-Za-z0-9._:-]{1,128}$/;

export const isFunctionName = (name: string): boolean => FUNCTION_NAME.test(name);

export const isTaskId = (id: string): boolean => TASK_ID.test(id);

/** File extensions a function module may have. */
export const MODULE_EXTENSIONS = ['.ts', '.js', '.mjs'] as const;
