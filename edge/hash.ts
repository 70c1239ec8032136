/**
 * FNV-1a over a string's UTF-16 units: how the edge spreads task ids over shards and finds a
 * function's lane shards. Stable across versions: changing it strands records.
 * @module
 */
export const fnv1a = (text: string): number => {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
};
