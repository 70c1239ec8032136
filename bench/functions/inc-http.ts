/** The trivial task as an HTTP handler: `{"args": [x]}` in, `{"result": x + 1}` out. */
export const config = { maxQueue: 1_000_000 };

export const fetch = async (request: Request): Promise<Response> => {
  const { args } = (await request.json()) as { args: [number] };
  return Response.json({ status: 'completed', result: args[0] + 1 });
};
