/**
 * workerd closes a connection right after answering a request whose body the Worker never read
 * (an answer decided before the body: 404 for an unknown function, 401, 405…). A keep-alive
 * client that sends its next request on that connection meanwhile gets ECONNRESET (16 of 200
 * such pairs locally, workerd 1.20260426.1). Reading what is left of a body of bounded size keeps
 * the connection, as Node's server does; a larger one is left, and its connection closes.
 * @module
 */

/** Read and drop what is left of `request`'s body, unless it is (or grows) larger than `max`. */
export const drainUnread = async (request: Request, max: number): Promise<void> => {
  if (!request.body || request.bodyUsed) return;
  const declared = Number(request.headers.get('Content-Length') ?? 0);
  if (declared > max) return;
  const reader = request.body.getReader();
  let read = 0;
  try {
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
      read += chunk.value.byteLength;
      if (read > max) {
        await reader.cancel();
        return;
      }
    }
  } catch {
    // The client went while it sent: there is no connection left to keep.
  }
};
