import { describe, expect, it } from 'vitest';
import { fromWireRequest, fromWireResponse, toWireRequest, toWireResponse } from './http.ts';

const bytes = (text: string) => new TextEncoder().encode(text).buffer as ArrayBuffer;

describe('requests and responses as plain data', () => {
  it('Should take a request already as plain data as it is, and a Request by its parts', async () => {
    const plain = {
      url: 'http://server.test/a?b=1',
      method: 'POST',
      headers: [['x-custom', 'kept']] as [string, string][],
      body: bytes('hello'),
    };
    expect(await toWireRequest(plain)).toBe(plain);
    const wire = await toWireRequest(
      new Request('http://server.test/a?b=1', {
        method: 'POST',
        headers: { 'X-Custom': 'kept' },
        body: 'hello',
      }),
    );
    expect(wire).toMatchObject({ url: plain.url, method: 'POST' });
    expect(wire.headers).toContainEqual(['x-custom', 'kept']);
    expect(new TextDecoder().decode(wire.body as ArrayBuffer)).toBe('hello');
  });

  it('Should drop a body given as plain data with GET or HEAD, so the worker can build the Request', async () => {
    for (const method of ['GET', 'HEAD']) {
      const wire = await toWireRequest({
        url: 'http://s.test/',
        method,
        headers: [],
        body: bytes('x'),
      });
      expect(wire.body).toBeNull();
      expect(fromWireRequest(wire).method).toBe(method);
    }
  });

  it('Should give a function the request it was sent, and the server the bytes it answered', async () => {
    const request = fromWireRequest({
      url: 'http://server.test/x',
      method: 'PUT',
      headers: [['content-type', 'text/plain']],
      body: bytes('payload'),
    });
    expect(await request.text()).toBe('payload');
    expect(request.headers.get('content-type')).toBe('text/plain');
    const wire = await toWireResponse(
      new Response(new Uint8Array([0, 1, 255]), { status: 201, headers: { 'x-from': 'fn' } }),
    );
    const response = fromWireResponse(wire);
    expect(response.status).toBe(201);
    expect(response.headers.get('x-from')).toBe('fn');
    expect([...new Uint8Array(await response.arrayBuffer())]).toEqual([0, 1, 255]);
    // Statuses that carry no body, and a response with none, come back without one.
    expect(fromWireResponse({ ...wire, status: 204 }).body).toBeNull();
    expect(fromWireResponse({ ...wire, body: null }).body).toBeNull();
  });
});
