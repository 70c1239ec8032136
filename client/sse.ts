/**
 * Reading Server-Sent Events from a fetch response body (fetch streaming rather than
 * EventSource, so an Authorization header can go with the request).
 * @module
 */

export interface SseMessage {
  event: string;
  data: string;
}

/**
 * Yields each message as it arrives; comments (keep-alives) are skipped. Ends when the body
 * does, or when `signal` aborts: not every fetch ends a body on abort (a Workers service
 * binding, an app called in the same process), so the reader is cancelled here.
 */
export async function* sseMessages(
  body: ReadableStream<Uint8Array>,
  signal?: AbortSignal,
): AsyncGenerator<SseMessage> {
  const reader = body.getReader();
  const stop = () => void reader.cancel().catch(() => {});
  signal?.addEventListener('abort', stop, { once: true });
  const decoder = new TextDecoder();
  let buffer = '';
  try {
    if (signal?.aborted) return;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true }).replace(/\r\n?/g, '\n');
      for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let event = 'message';
        const data: string[] = [];
        for (const line of block.split('\n')) {
          if (line.startsWith(':')) continue;
          const colon = line.indexOf(':');
          const field = colon < 0 ? line : line.slice(0, colon);
          const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
          if (field === 'event') event = value;
          else if (field === 'data') data.push(value);
        }
        if (data.length > 0) yield { event, data: data.join('\n') };
      }
    }
  } finally {
    signal?.removeEventListener('abort', stop);
    // Ends the request too, when the caller stops early (break, return, abort).
    await reader.cancel().catch(() => {});
  }
}
