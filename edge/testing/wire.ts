/**
 * The JSON spoken between the contract suite (Node) and the task-table harness (workerd): plain
 * JSON, plus the non-finite numbers it would drop, since an endless `wait` is `Infinity`.
 * @module
 */

export const encode = (value: unknown): string =>
  JSON.stringify(value, (_key, v: unknown) =>
    typeof v === 'number' && !Number.isFinite(v) ? { $number: String(v) } : v,
  );

export const decode = <T>(text: string): T =>
  JSON.parse(text, (_key, v: unknown) =>
    typeof v === 'object' &&
    v !== null &&
    typeof (v as { $number?: unknown }).$number === 'string' &&
    Object.keys(v).length === 1
      ? Number((v as { $number: string }).$number)
      : v,
  ) as T;
