/**
 * Compile-time only, checked by `tsc -p .`: the client's types (`client/types.ts`, which import
 * nothing of the server by design) mirror the runtime's. A field renamed, added or dropped on
 * one side, made optional where the client needs it, or of a type the two do not agree on fails
 * the type check here, and the error names the field: `"TaskRecord.workerId: runtime only"`.
 * Where the client is deliberately open (`string` for codes and statuses, `unknown` for
 * results), it only has to accept what the runtime sends.
 * (`test/client-types-drift.test.ts` shows that a rename fails it.)
 */
import type * as Client from '../client/index.ts';
import type * as Server from '../runtime/index.ts';

type Defined<T> = Exclude<T, undefined>;

/** The keys a type writes out, without index signatures (`[more: string]: unknown`). */
type KnownKeys<T> = keyof {
  [K in keyof T as string extends K ? never : number extends K ? never : K]: T[K];
};

type OptionalKeys<T> = {
  [K in KnownKeys<T>]-?: object extends Pick<T, K> ? K : never;
}[KnownKeys<T>];

/** A data object, compared field by field (not an array, a function or a primitive). */
type IsRecord<T> = [T] extends [readonly unknown[]]
  ? false
  : [T] extends [(...args: never[]) => unknown]
    ? false
    : [T] extends [object]
      ? true
      : false;

/** A client type that takes any value of its kind: `string`, `number` or `unknown`. */
type IsOpen<C> = unknown extends C
  ? true
  : string extends C
    ? true
    : number extends C
      ? true
      : false;

/**
 * Where the server's `S` and the client's `C` differ, as `path: why`; `never` when they agree.
 * Objects and arrays are compared field by field; other values must be the same type, or the
 * client's an open one that accepts the server's.
 */
export type Drift<S, C, P extends string> = [Defined<S>] extends [readonly (infer SE)[]]
  ? [Defined<C>] extends [readonly (infer CE)[]]
    ? Drift<SE, CE, `${P}[]`>
    : `${P}: an array in the runtime only`
  : IsRecord<Defined<S>> extends true
    ? IsRecord<Defined<C>> extends true
      ? FieldDrift<Defined<S>, Defined<C>, P>
      : `${P}: an object in the runtime only`
    : ValueDrift<Defined<S>, Defined<C>, P>;

/** `P.key: where only` for each key `A` writes out and `B` does not. */
type OnlyIn<
  A,
  B,
  P extends string,
  Where extends string,
> = `${P}.${Exclude<KnownKeys<A>, KnownKeys<B>> & string}: ${Where} only`;

type FieldDrift<S, C, P extends string> =
  | OnlyIn<S, C, P, 'runtime'>
  | OnlyIn<C, S, P, 'client'>
  | SharedDrift<S, C, P>
  // A map (`Record<string, X>`) compares its values.
  | (string extends keyof S
      ? string extends keyof C
        ? Drift<S[string & keyof S], C[string & keyof C], `${P}[*]`>
        : `${P}: a map in the runtime only`
      : never);

/** Each key both write out (distributed over `K`). */
type SharedDrift<S, C, P extends string, K = KnownKeys<S> & KnownKeys<C>> = K extends keyof S &
  keyof C &
  string
  ?
      | (K extends OptionalKeys<S>
          ? K extends OptionalKeys<C>
            ? never
            : `${P}.${K}: optional in the runtime, required by the client`
          : never)
      | Drift<S[K], C[K], `${P}.${K}`>
  : never;

type ValueDrift<S, C, P extends string> = [S] extends [C]
  ? [C] extends [S]
    ? never
    : IsOpen<C> extends true
      ? never
      : `${P}: the client allows more than the runtime sends`
  : `${P}: the client does not accept the runtime's type`;

type ServerEvents = Server.RuntimeEvent['type'];
type ClientEvents = Client.ServerEvent['type'];

/** The live events: the same types, and the data of each. */
type EventDrift = {
  [T in ServerEvents | ClientEvents]: T extends ClientEvents
    ? T extends ServerEvents
      ? Drift<
          Extract<Server.RuntimeEvent, { type: T }>['data'],
          Extract<Client.ServerEvent, { type: T }>['data'],
          `event ${T}`
        >
      : `event ${T}: client only`
    : `event ${T}: runtime only`;
}[ServerEvents | ClientEvents];

/** What the client sends (its call options aside) is what the runtime takes. */
type SentDrift<C, S, P extends string> =
  | OnlyIn<Omit<C, 'signal'>, S, P, 'client'>
  | OnlyIn<S, C, P, 'runtime'>
  | ([Required<Omit<C, 'signal'>>] extends [Required<S>]
      ? never
      : `${P}: the runtime does not accept what the client sends`);

/** Compiles only when `T` is `never`; otherwise the error shows what `T` is. */
type Agree<T extends never> = T;

export type ClientMirrorsRuntime = [
  Agree<Drift<Server.TaskRecord, Client.TaskRecord, 'TaskRecord'>>,
  Agree<Drift<Server.TaskStatus, Client.TaskStatus, 'TaskStatus'>>,
  Agree<Drift<Server.TaskPage, Client.TaskPage, 'TaskPage'>>,
  Agree<Drift<Server.FunctionInfo, Client.FunctionInfo, 'FunctionInfo'>>,
  Agree<Drift<Server.PoolStats, Client.PoolStats, 'PoolStats'>>,
  Agree<Drift<Server.ScalingEvent, Client.ScalingEvent, 'ScalingEvent'>>,
  Agree<Drift<Server.LogEvent, Client.LogEvent, 'LogEvent'>>,
  Agree<EventDrift>,
  Agree<SentDrift<Client.SubmitOptions, Server.SubmitOptions, 'SubmitOptions'>>,
  Agree<SentDrift<Client.ListQuery, Server.TaskQuery, 'ListQuery'>>,
];
