/** The SHA-256 of a UTF-8 string, hex encoded, with Web Crypto (the same on every host). */
export default async function (text: string): Promise<string> {
  if (typeof text !== 'string') throw new TypeError('text must be a string');
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}
