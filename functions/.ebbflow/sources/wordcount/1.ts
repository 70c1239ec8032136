/** Counts words in a text and returns the most frequent ones: a small data-shaping function. */
export default function (text: string, top = 5): { words: number; top: Array<[string, number]> } {
  if (typeof text !== 'string') throw new TypeError('text must be a string');
  const counts = new Map<string, number>();
  for (const word of text.toLowerCase().match(/[\p{L}\p{N}']+/gu) ?? []) {
    counts.set(word, (counts.get(word) ?? 0) + 1);
  }
  const sorted = [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  return { words: [...counts.values()].reduce((a, b) => a + b, 0), top: sorted.slice(0, top) };
}
