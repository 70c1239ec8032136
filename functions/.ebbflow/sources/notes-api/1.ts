/**
 * A small JSON API as an HTTP handler: `GET /fn/notes-api/notes`, `POST /fn/notes-api/notes`
 * with `{"text": "..."}`, `GET /fn/notes-api/notes/<id>`. Notes live in the worker's memory,
 * so each worker has its own (an example of routing, not of storage).
 */
export const config = { minWorkers: 1, maxWorkers: 1 };

interface Note {
  id: number;
  text: string;
  at: number;
}

const notes: Note[] = [];

const json = (body: unknown, status = 200) => Response.json(body, { status });

export const fetch = async (request: Request): Promise<Response> => {
  const path = new URL(request.url).pathname.replace(/\/+$/, '');
  if (path === '/notes' && request.method === 'GET') return json({ notes });
  if (path === '/notes' && request.method === 'POST') {
    const body = (await request.json().catch(() => null)) as { text?: unknown } | null;
    if (typeof body?.text !== 'string' || body.text === '') {
      return json({ error: { code: 'invalid_body', message: 'send {"text": "<note>"}' } }, 400);
    }
    const note = { id: notes.length + 1, text: body.text, at: Date.now() };
    notes.push(note);
    console.log(`note ${note.id} added`);
    return json(note, 201);
  }
  const match = /^\/notes\/(\d+)$/.exec(path);
  if (match && request.method === 'GET') {
    const note = notes.find((n) => n.id === Number(match[1]));
    return note ? json(note) : json({ error: { code: 'not_found', message: 'no such note' } }, 404);
  }
  return json({ error: { code: 'not_found', message: `no route ${request.method} ${path}` } }, 404);
};
