/**
 * An HTTP handler serving a small HTML page: open http://127.0.0.1:8787/fn/hello-page?name=you
 * (with a server token set, send it as a Bearer token).
 */
const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export const fetch = (request: Request): Response => {
  const name = new URL(request.url).searchParams.get('name') ?? 'world';
  const html = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Hello from ebbflow</title></head>
<body><h1>Hello, ${escapeHtml(name)}!</h1><p>Served by a function's <code>fetch</code> export.</p></body>
</html>`;
  return new Response(html, { headers: { 'Content-Type': 'text/html; charset=utf-8' } });
};
