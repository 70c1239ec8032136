/** Reading Server-Sent Events from a fetch response, for tests: the client's parser, JSON data. */
import { sseMessages } from '../../client/sse.ts';

export interface SseEvent {
  event: string;
  data: unknown;
}

/** Parse the stream into events (comments skipped) as they arrive. */
export async function* readSse(response: Response): AsyncGenerator<SseEvent> {
  for await (const { event, data } of sseMessages(response.body as ReadableStream<Uint8Array>)) {
    yield { event, data: JSON.parse(data) };
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
