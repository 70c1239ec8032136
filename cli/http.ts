/**
 * The CLI's HTTP calls to an ebbflow server: the address and token from flags or the
 * environment, and every way a call can go wrong turned into one clear line and an exit code.
 * @module
 */

/** Exit codes: 0 success; these otherwise. */
export const EXIT = {
  /** The server answered with an error, or the task failed. */
  failed: 1,
  /** The command line was wrong (unknown command, missing argument, bad JSON). */
  usage: 2,
  /** No server answered at the address. */
  unreachable: 3,
} as const;

/** A failure the CLI reports as one line and an exit code (no stack). */
export class CliFailure extends Error {
  override name = 'CliFailure';
  readonly exitCode: number;
  /** The server's error code when the server refused the call (`javascript_required`, …). */
  readonly code: string | undefined;
  constructor(message: string, exitCode: number = EXIT.failed, code?: string) {
    super(message);
    this.exitCode = exitCode;
    this.code = code;
  }
}

export interface Connection {
  url: string;
  token?: string;
}

/** Flags every client command takes. */
export const CONNECTION_ARGS = {
  url: {
    type: 'string',
    description: 'the server (default: EBBFLOW_URL, else http://127.0.0.1:8787)',
    valueHint: 'http://host:port',
  },
  token: {
    type: 'string',
    description: 'bearer token (default: EBBFLOW_TOKEN)',
  },
  json: { type: 'boolean', description: 'print the server’s JSON answer as it is' },
} as const;

export const connection = (
  args: { url?: string; token?: string },
  env: Record<string, string | undefined>,
  /** Variables tried before EBBFLOW_TOKEN (deploys try EBBFLOW_ADMIN_TOKEN first). */
  tokenVariables: readonly string[] = [],
): Connection => {
  const url = (args.url ?? env.EBBFLOW_URL ?? 'http://127.0.0.1:8787').replace(/\/+$/, '');
  if (!/^https?:\/\/[^/]/.test(url)) {
    throw new CliFailure(
      `--url must be an http(s) address, got ${JSON.stringify(url)}`,
      EXIT.usage,
    );
  }
  let token = args.token;
  for (const name of [...tokenVariables, 'EBBFLOW_TOKEN']) token ||= env[name];
  return token ? { url, token } : { url };
};

// biome-ignore lint/suspicious/noExplicitAny: answers are JSON read field by field.
export type Json = any;

export interface CallOptions {
  method?: string;
  body?: string;
  contentType?: string;
  /** What the call is, for messages ("deploy greet"). */
  what: string;
  /** It changes functions: the admin token is the one to name in messages. */
  admin?: boolean;
}

/** Call the server; resolves with the JSON of a 2xx answer, throws a `CliFailure` otherwise. */
export const call = async (
  conn: Connection,
  path: string,
  { method = 'GET', body, contentType, what, admin = false }: CallOptions,
): Promise<{ status: number; body: Json; headers: Headers }> => {
  const headers: Record<string, string> = {};
  if (conn.token) headers.Authorization = `Bearer ${conn.token}`;
  if (contentType) headers['Content-Type'] = contentType;
  let res: Response;
  try {
    res = await fetch(`${conn.url}${path}`, { method, headers, body });
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    const why = cause?.code ?? cause?.message ?? (error as Error).message;
    throw new CliFailure(
      `cannot reach the ebbflow server at ${conn.url} (${why}); start one with \`ebbflow serve\`, or point --url / EBBFLOW_URL at it`,
      EXIT.unreachable,
    );
  }
  const text = await res.text();
  const json = parseJson(text);
  // Task answers (invoke's 500/504/409) carry a record, not an error: the caller reads them.
  if (res.ok || (json && typeof json === 'object' && 'status' in json && 'id' in json)) {
    return { status: res.status, body: json, headers: res.headers };
  }
  throw failure(res.status, text, what, conn, admin);
};

const parseJson = (text: string): Json => {
  try {
    return text === '' ? undefined : JSON.parse(text);
  } catch {
    return undefined;
  }
};

/** The `CliFailure` for an error answer of `status` with body `text`. */
export const failure = (
  status: number,
  text: string,
  what: string,
  conn: Connection,
  admin = false,
): CliFailure => {
  const json = parseJson(text);
  return new CliFailure(
    explain(status, json?.error, text, what, conn, admin),
    EXIT.failed,
    typeof json?.error?.code === 'string' ? json.error.code : undefined,
  );
};

const explain = (
  status: number,
  error: { code?: string; message?: string } | undefined,
  text: string,
  what: string,
  conn: Connection,
  admin: boolean,
): string => {
  const said = error?.message ?? (text.slice(0, 200) || `HTTP ${status}`);
  const code = error?.code ? ` [${error.code}]` : '';
  // Changing functions takes the admin token; running them, the invoke token.
  const variable = admin ? 'EBBFLOW_ADMIN_TOKEN' : 'EBBFLOW_TOKEN';
  switch (status) {
    case 401:
      return conn.token
        ? `${what}: the server refused the token (401${code}): ${said}${admin ? ' (this takes the admin token, EBBFLOW_ADMIN_TOKEN)' : ''}`
        : `${what}: the server needs a token (401); pass --token or set ${variable}`;
    case 403:
      return admin && error?.code === 'forbidden'
        ? `${what}: forbidden (403${code}): ${said}; set EBBFLOW_ADMIN_TOKEN (or --token) to the server's admin token`
        : `${what}: forbidden (403${code}): ${said}`;
    case 404:
      return `${what}: not found (404${code}): ${said}`;
    case 422:
      return `${what}: the server refused the function (422${code}):\n  ${said}`;
    default:
      return `${what}: the server answered ${status}${code}: ${said}`;
  }
};
