/**
 * One route of the HTTP API, written once: its method and path, the valibot schemas its input is
 * checked with, its OpenAPI operation, and its handler. Each resource is a table of these
 * (`routes/*.ts`, gathered in `routes/index.ts`); the app mounts them, the 405 answers list their
 * methods and `/openapi.json` is generated from them, as `server/settings.ts` drives env, flags
 * and `--help` from one table. Adding a route is adding an entry.
 * @module
 */
import type { Context, MiddlewareHandler } from 'hono';
import type * as v from 'valibot';
import type { ClusterStats, Runtime } from '../runtime/index.ts';
import type { AssetReader } from './assets.ts';
import type { EventFanout } from './event-stream.ts';
import type { Metrics } from './metrics.ts';
import type { StatsHistory } from './stats-history.ts';
import type { StreamSlots } from './stream-slots.ts';

export type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';
export type Schema = v.GenericSchema;
/** An object schema: its keys are the query parameters' names. */
export type QuerySchema = Schema & { entries: v.ObjectEntries };

/** A path parameter's rule, and the 400 a request breaking it gets. */
export interface PathParam {
  pattern: RegExp;
  code: 'invalid_name' | 'invalid_id';
  /** What the rule is, for a person (the 400's message). */
  rule: string;
  /** How much of a bad value the 400 repeats. */
  echo: number;
  /** A value that keeps the rule, shown in the reference. */
  example: string;
}

/** A request header a route reads: its rule, and the 400 a value breaking it gets. */
export interface HeaderParam {
  pattern: RegExp;
  /** What the rule is, for a person (the 400's message). */
  rule: string;
  description: string;
}

/** One answer of a route, as OpenAPI shows it. */
export interface Reply {
  description: string;
  /** Its JSON body's shape. */
  schema?: Schema;
  /** Another media type it may come as. */
  media?: string;
  /** What it looks like: a value of `schema` (JSON), else the text of `media`. */
  example?: unknown;
}

/** What every handler may use: the runtime, the app's settings and shared state, made once. */
export interface Deps {
  runtime: Runtime;
  metrics: Metrics;
  log: (message: string) => void;
  /** Routine lines a person may want to keep (a deploy, a delete). @default log */
  audit: (message: string) => void;
  /** The invoke token, when set. */
  token?: string;
  /** The admin token (deploys), when set. */
  adminToken?: string;
  maxFunctionBytes: number;
  cluster?: () => ClusterStats;
  assets?: AssetReader;
  /** The live events' fan-out to `/events` readers. */
  events: EventFanout;
  /** Slots of the requests that stay open: event streams and long-polls (EBBFLOW_MAX_STREAMS). */
  streams: StreamSlots;
  /** The recent stats samples, where the app keeps them (`GET /stats/history`). */
  history?: StatsHistory;
  /** Every route the app serves (the OpenAPI document lists them). */
  routes: readonly Route[];
}

/**
 * A request's input, read by its route's own schemas: what the document shows is what is
 * checked. Made once per route when the app is built, not per request.
 */
export interface Input<P extends string, Q, B> {
  /** A path parameter, checked against its rule (400 `invalid_name` / `invalid_id`). */
  param(c: Context, name: P): string;
  /** An optional header of the route's `headers`, checked against its rule (400 `invalid_argument`). */
  header(c: Context, name: string): string | undefined;
  /** The query, parsed by the route's `query` schema (400 `invalid_query`). */
  query(c: Context): Q;
  /** The JSON body (empty means `{}`), parsed by the route's body schema (400 `invalid_json`, `invalid_body`). */
  body(c: Context): Promise<B>;
}

type Out<S> = S extends Schema ? v.InferOutput<S> : never;

export interface RouteSpec<P extends string, Q, B> {
  /** `all`: every method reaches the handler (OpenAPI lists get, post, put, patch and delete). */
  method: Method | 'all';
  /** A Hono path: `:name` parameters, a trailing `*` for the rest. */
  path: string;
  summary: string;
  description?: string;
  /** Its group in the reference. */
  tag: string;
  /** Needs no token (a fixed path: the auth middleware looks paths up as they are). */
  public?: boolean;
  /** Left out of the OpenAPI document: a page's own file (a script, a style sheet, an icon). */
  hidden?: boolean;
  params?: Record<P, PathParam>;
  /** Optional request headers it reads, by name. */
  headers?: Record<string, HeaderParam>;
  query?: Q;
  /** The request body; with a `schema`, JSON read by `input.body`. */
  body?: { schema?: B; media: string; description?: string; example?: unknown };
  /** Query parameters of a request that works (each a value its `query` schema takes). */
  queryExample?: Record<string, string>;
  /** By status (`default` for a function's own answers). */
  responses: Record<string, Reply>;
  /** Middleware before the handler, made once per app from its settings (deploys: admin token, size). */
  guards?: (deps: Deps) => MiddlewareHandler[];
  handle(c: Context, deps: Deps, input: Input<P, Out<Q>, Out<B>>): Response | Promise<Response>;
}

/** A route in a table: its input types erased (each entry was checked by `route()`). */
export type Route = RouteSpec<string, QuerySchema | undefined, Schema | undefined>;

/** Types an entry's handler by its own params and schemas. */
export const route = <
  P extends string = never,
  Q extends QuerySchema | undefined = undefined,
  B extends Schema | undefined = undefined,
>(
  spec: RouteSpec<P, Q, B>,
): Route => spec as unknown as Route;
