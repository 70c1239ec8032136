/**
 * The functions of the edge, in one Durable Object (`FUNCTIONS`, instance `registry`): the ones
 * built into the Worker bundle plus the ones deployed by name (`PUT /functions/:name`, JavaScript
 * kept in SQLite). Each name has a version that grows with every change and survives restarts.
 * The newest of a build and a deploy wins: a rebuilt bundle whose function changed takes over
 * from a deployed one of that name. A delete leaves a tombstone that keeps the code (and the
 * version it had, so the next deploy of the name is the next version), so tasks already accepted
 * still run. Each name's newest versions (EBBFLOW_KEEP_VERSIONS, default 10) are kept with their
 * code in a second table, so a rollback serves one again under its own number; a deploy of the
 * source that serves makes no new version.
 * @module
 */
import { DurableObject } from 'cloudflare:workers';
import bundle from 'ebbflow:functions';
import type { DurableObjectState } from '@cloudflare/workers-types/latest/index.ts';
import {
  EbbflowError,
  noPreviousVersion,
  unknownFunction,
  unknownVersion,
} from '../runtime/errors.ts';
import { DEFAULTS, resolveFunctionConfig } from '../runtime/options.ts';
import { sha256Hex } from '../runtime/registry/sha256.ts';
import type { FunctionVersions } from '../runtime/types.ts';
import { cutMessage } from '../runtime/worker/bounds.ts';
import type { Answer } from './answer.ts';
import { answer, failed, ok } from './answer.ts';
import type { EdgeEnv } from './env.ts';
import { edgeDefaults } from './env.ts';
import { type FunctionCode, Isolates } from './isolates.ts';
import { loaderOf } from './loader-of.ts';

/** One function as the registry knows it (the code apart). */
export interface DeployedFunction {
  name: string;
  sha256: string;
  version: number;
  deployedAt: number;
  /** The module's `config` export as it was read (resolved by its reader). */
  config: unknown;
  /** Why it cannot run (the loader's message), when it cannot. */
  error?: string;
  deleted: boolean;
  /** Whether the module exports `fetch` (an HTTP handler). */
  handler: boolean;
}

export type FunctionRecord = DeployedFunction & FunctionCode;

interface Row extends Record<string, string | number | null> {
  name: string;
  js: string;
  sha256: string;
  code_sha: string;
  version: number;
  deployed_at: number;
  config: string | null;
  error: string | null;
  deleted: number;
  handler: number;
  bundle_sha: string | null;
}

const SCHEMA = `CREATE TABLE IF NOT EXISTS functions (
  name TEXT PRIMARY KEY,
  js TEXT NOT NULL,
  sha256 TEXT NOT NULL,
  code_sha TEXT NOT NULL,
  version INTEGER NOT NULL,
  deployed_at INTEGER NOT NULL,
  config TEXT,
  error TEXT,
  deleted INTEGER NOT NULL DEFAULT 0,
  handler INTEGER NOT NULL DEFAULT 0,
  bundle_sha TEXT
)`;

/** Kept versions: the code of each, by name and number (a rollback copies one back). */
const VERSIONS_SCHEMA = `CREATE TABLE IF NOT EXISTS versions (
  name TEXT NOT NULL,
  version INTEGER NOT NULL,
  js TEXT NOT NULL,
  sha256 TEXT NOT NULL,
  code_sha TEXT NOT NULL,
  deployed_at INTEGER NOT NULL,
  config TEXT,
  handler INTEGER NOT NULL DEFAULT 0,
  language TEXT NOT NULL,
  bytes INTEGER NOT NULL,
  PRIMARY KEY (name, version)
)`;

interface VersionRow extends Record<string, string | number | null> {
  name: string;
  version: number;
  js: string;
  sha256: string;
  code_sha: string;
  deployed_at: number;
  config: string | null;
  handler: number;
  /** What was deployed (or built): TypeScript is kept as the JavaScript it was stripped to. */
  language: 'ts' | 'js';
  /** The size of that source in UTF-8 bytes. */
  bytes: number;
}

/** What a kept version's listing says of the source it came from. */
type KeptSource = Pick<VersionRow, 'language' | 'bytes'>;

const utf8Bytes = (text: string): number => new TextEncoder().encode(text).length;

/** The next number of a name: past both its current row and every kept version. */
const NEXT_VERSION =
  'max(version, (SELECT coalesce(max(v.version), 0) FROM versions v WHERE v.name = functions.name)) + 1';

export class FunctionRegistry extends DurableObject<EdgeEnv> {
  #isolates: Isolates;

  constructor(ctx: DurableObjectState, env: EdgeEnv) {
    super(ctx, env);
    this.#isolates = new Isolates(loaderOf(env, ctx), bundle.isolate, 'registry');
    ctx.storage.sql.exec(SCHEMA);
    ctx.storage.sql.exec(VERSIONS_SCHEMA);
    void ctx.blockConcurrencyWhile(() => this.#syncBundle());
  }

  /** Every function, deleted ones included (their readers skip them). */
  async list(): Promise<DeployedFunction[]> {
    return this.#rows().map(entryOf);
  }

  /** The code and entry of one function, deleted or not. */
  async code(name: string): Promise<FunctionRecord | undefined> {
    const row = this.ctx.storage.sql
      .exec<Row>('SELECT * FROM functions WHERE name = ?', name)
      .toArray()[0];
    return row && { ...entryOf(row), js: row.js, codeSha256: row.code_sha };
  }

  /**
   * Store a new version after it loaded and its config checked out; the old one stays otherwise.
   * `source` is what was deployed (TypeScript before its types were stripped), whose hash
   * FunctionInfo shows.
   */
  async deploy(
    name: string,
    js: string,
    source: string = js,
    language: 'ts' | 'js' = 'js',
  ): Promise<Answer<{ entry: DeployedFunction; created: boolean; unchanged?: boolean }>> {
    const codeSha = await sha256Hex(js);
    const sha256 = source === js ? codeSha : await sha256Hex(source);
    const serving = this.#row(name);
    if (
      serving &&
      serving.deleted === 0 &&
      serving.error === null &&
      serving.sha256 === sha256 &&
      serving.code_sha === codeSha
    ) {
      return ok({ entry: entryOf(serving), created: false, unchanged: true });
    }
    const probe = await this.#isolates.probe({ name, js, codeSha256: codeSha });
    if (!probe.ok) return failed('invalid_function', probe.error);
    try {
      resolveFunctionConfig(probe.config ?? undefined, edgeDefaults(this.env));
    } catch (error) {
      return failed(
        'invalid_function',
        `the module's config is invalid: ${(error as Error).message}`,
      );
    }
    const before = await this.code(name);
    const created = !before || before.deleted;
    this.#put(
      name,
      js,
      { sha256, code: codeSha },
      probe.config,
      undefined,
      probe.handler,
      undefined,
      { language, bytes: utf8Bytes(source) },
    );
    return ok({
      entry: (await this.list()).find((e) => e.name === name) as DeployedFunction,
      created,
    });
  }

  /** Delete: the entry as it was (the version that was deleted), or undefined when none. */
  async remove(name: string): Promise<DeployedFunction | undefined> {
    const found = await this.code(name);
    if (!found || found.deleted) return undefined;
    this.ctx.storage.sql.exec(
      'UPDATE functions SET deleted = 1, deployed_at = ? WHERE name = ?',
      Date.now(),
      name,
    );
    const { js: _js, codeSha256: _code, ...entry } = found;
    return entry;
  }

  /** The kept versions of `name`, newest first (the one serving marked). */
  async versions(name: string): Promise<Answer<FunctionVersions>> {
    return answer(async () => {
      const current = this.#row(name);
      if (!current || current.deleted === 1) throw unknownFunction(name);
      const kept = this.#kept(name);
      const listed = kept.map((k) => ({
        version: k.version,
        sha256: k.sha256,
        deployedAt: k.deployed_at,
        bytes: k.bytes,
        language: k.language,
        serving: k.version === current.version,
      }));
      return { name, version: current.version, versions: listed };
    });
  }

  /**
   * Serve kept version `version` of `name` again (by default the newest kept one older than the
   * one serving), checked in an isolate first; it keeps its number.
   */
  async rollback(
    name: string,
    version?: number,
  ): Promise<Answer<{ entry: DeployedFunction; unchanged?: boolean }>> {
    return answer(async () => {
      const current = this.#row(name);
      if (!current || current.deleted === 1) throw unknownFunction(name);
      const kept = this.#kept(name);
      const target = version ?? kept.find((k) => k.version < current.version)?.version;
      if (target === undefined) throw noPreviousVersion(name, current.version);
      if (target === current.version && current.error === null) {
        return { entry: entryOf(current), unchanged: true };
      }
      const row = kept.find((k) => k.version === target);
      if (!row) {
        throw unknownVersion(
          name,
          target,
          kept.map((k) => k.version),
        );
      }
      const probe = await this.#isolates.probe({ name, js: row.js, codeSha256: row.code_sha });
      const why = probe.ok ? configError(probe.config, this.env) : probe.error;
      if (why !== undefined) {
        throw new EbbflowError(
          'invalid_function',
          `function "${name}" was not rolled back: ${why}`,
        );
      }
      const now = Date.now();
      this.ctx.storage.sql.exec(
        `UPDATE functions SET js = ?2, sha256 = ?3, code_sha = ?4, version = ?5, deployed_at = ?6,
           config = ?7, error = NULL, deleted = 0, handler = ?8 WHERE name = ?1`,
        name,
        row.js,
        row.sha256,
        row.code_sha,
        row.version,
        now,
        row.config,
        row.handler,
      );
      this.ctx.storage.sql.exec(
        'UPDATE versions SET deployed_at = ? WHERE name = ? AND version = ?',
        now,
        name,
        target,
      );
      return { entry: entryOf(this.#row(name) as Row) };
    });
  }

  /** Bring the bundle's functions in: new or changed ones get a version, gone ones a tombstone. */
  async #syncBundle(): Promise<void> {
    const rows = new Map(this.#rows().map((row) => [row.name, row]));
    for (const fn of bundle.functions) {
      const row = rows.get(fn.name);
      if (row && row.bundle_sha === fn.codeSha256) continue;
      const probe = fn.error
        ? ({ ok: false, error: cutMessage(fn.error) } as const)
        : await this.#isolates.probe(fn);
      const error = probe.ok ? configError(probe.config, this.env) : probe.error;
      this.#put(
        fn.name,
        fn.js,
        { sha256: fn.sha256, code: fn.codeSha256 },
        probe.ok ? probe.config : null,
        error,
        probe.ok && probe.handler,
        fn.codeSha256,
        { language: fn.language, bytes: fn.bytes },
      );
    }
    const built = new Set(bundle.functions.map((fn) => fn.name));
    for (const row of rows.values()) {
      if (row.bundle_sha !== null && !built.has(row.name) && row.bundle_sha === row.code_sha) {
        this.ctx.storage.sql.exec(
          'UPDATE functions SET deleted = 1 WHERE name = ? AND deleted = 0',
          row.name,
        );
      }
    }
  }

  #put(
    name: string,
    js: string,
    hashes: { sha256: string; code: string },
    config: unknown,
    error: string | undefined,
    handler: boolean,
    bundleSha: string | undefined,
    source: KeptSource,
  ): void {
    this.ctx.storage.sql.exec(
      `INSERT INTO functions (name, js, sha256, code_sha, version, deployed_at, config, error, deleted, handler, bundle_sha)
       VALUES (?1, ?2, ?3, ?9, 1, ?4, ?5, ?6, 0, ?7, ?8)
       ON CONFLICT (name) DO UPDATE SET js = ?2, sha256 = ?3, code_sha = ?9, version = ${NEXT_VERSION}, deployed_at = ?4,
         config = ?5, error = ?6, deleted = 0, handler = ?7, bundle_sha = coalesce(?8, bundle_sha)`,
      name,
      js,
      hashes.sha256,
      Date.now(),
      JSON.stringify(config ?? null),
      error ?? null,
      handler ? 1 : 0,
      bundleSha ?? null,
      hashes.code,
    );
    if (error === undefined) this.#keep(name, source);
  }

  /** Keep the version of `name` serving now, dropping those past the newest `keepVersions`. */
  #keep(name: string, source: KeptSource): void {
    const row = this.#row(name) as Row;
    this.ctx.storage.sql.exec(
      `INSERT OR REPLACE INTO versions (name, version, js, sha256, code_sha, deployed_at, config, handler, language, bytes)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      name,
      row.version,
      row.js,
      row.sha256,
      row.code_sha,
      row.deployed_at,
      row.config,
      row.handler,
      source.language,
      source.bytes,
    );
    this.ctx.storage.sql.exec(
      `DELETE FROM versions WHERE name = ?1 AND version <> ?2 AND version NOT IN
         (SELECT version FROM versions WHERE name = ?1 ORDER BY version DESC LIMIT ?3)`,
      name,
      row.version,
      edgeDefaults(this.env).keepVersions ?? DEFAULTS.keepVersions,
    );
  }

  #kept(name: string): VersionRow[] {
    return this.ctx.storage.sql
      .exec<VersionRow>('SELECT * FROM versions WHERE name = ? ORDER BY version DESC', name)
      .toArray();
  }

  #row(name: string): Row | undefined {
    return this.ctx.storage.sql
      .exec<Row>('SELECT * FROM functions WHERE name = ?', name)
      .toArray()[0];
  }

  #rows(): Row[] {
    return this.ctx.storage.sql.exec<Row>('SELECT * FROM functions ORDER BY name').toArray();
  }
}

const entryOf = (row: Row): DeployedFunction => {
  const entry: DeployedFunction = {
    name: row.name,
    sha256: row.sha256,
    version: row.version,
    deployedAt: row.deployed_at,
    config: row.config === null ? null : JSON.parse(row.config),
    deleted: row.deleted === 1,
    handler: row.handler === 1,
  };
  if (row.error !== null) entry.error = row.error;
  return entry;
};

const configError = (config: unknown, env: EdgeEnv): string | undefined => {
  try {
    resolveFunctionConfig(config ?? undefined, edgeDefaults(env));
    return undefined;
  } catch (error) {
    return `the module's config is invalid: ${(error as Error).message}`;
  }
};
