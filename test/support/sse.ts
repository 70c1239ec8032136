/** Reading Server-Sent Events from a fetch response, for tests. */

export interface SseEvent {
  event: string;
  data: unknown;
}

/** Parse the stream into events (comments skipped) as they arrive. */
export async function* readSse(response: Response): AsyncGenerator<SseEvent> {
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let event = 'message';
        const data: string[] = [];
        for (const line of block.split('\n')) {
          if (line.startsWith('event: ')) event = line.slice(7);
          else if (line.startsWith('data: ')) data.push(line.slice(6));
        }
        if (data.length > 0) yield { event, data: JSON.parse(data.join('\n')) };
      }
    }
  } finally {
    reader.releaseLock();
    await response.body?.cancel().catch(() => {});
  }
}

/** Collect events until `stop` says so (inclusive). */
export const collectUntil = async (
  events: AsyncGenerator<SseEvent>,
  stop: (event: SseEvent, all: SseEvent[]) => boolean,
): Promise<SseEvent[]> => {
  const all: SseEvent[] = [];
  for await (const event of events) {
    all.push(event);
    if (stop(event, all)) break;
  }
  return all;
};
