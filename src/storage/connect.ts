import { mkdir } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, type LogConfig, PostgresDialect, SqliteDialect, sql } from 'kysely';
import pg from 'pg';
import { StorageError, secretsOf, toStorageError } from './errors.js';
import type { Database } from './schema.js';
import type { StorageDialect, StorageOptions } from './types.js';

/** An open database plus what error wrapping needs to keep its credentials out of messages. */
export interface Connection {
  db: Kysely<Database>;
  dialect: StorageDialect;
  secrets: readonly string[];
  /**
   * PostgreSQL's current schema. Kysely's migrator, when not told a schema, treats its bookkeeping
   * tables in ANY schema of the database as its own, so another app (or test run) in a sibling schema
   * would make it skip creating them here.
   */
  schema?: string;
}

// A dead or firewalled server must fail startup within seconds, not hang behind pg's default of
// "wait forever"; callers and tests rely on this bound.
const PG_CONNECT_TIMEOUT_MS = 2_000;
const PG_POOL_SIZE = 10;
// How long a writer waits for another process's write lock on the SQLite file before SQLITE_BUSY.
const SQLITE_BUSY_TIMEOUT_MS = 5_000;

export async function openConnection(options: StorageOptions): Promise<Connection> {
  const databaseUrl = options.databaseUrl?.trim() || undefined;
  const log = queryLogger(options.onQuery);
  if (databaseUrl === undefined) return openSqlite(options.sqlitePath, log);
  return openPostgres(databaseUrl, log);
}

async function openSqlite(path: string, log: LogConfig | undefined): Promise<Connection> {
  let sqlite: SqliteDatabase.Database;
  try {
    if (!isInMemory(path)) await mkdir(dirname(resolve(path)), { recursive: true });
    sqlite = new SqliteDatabase(path, { timeout: SQLITE_BUSY_TIMEOUT_MS });
    // WAL lets readers run while a write commits; NORMAL sync is durable against process crashes
    // in WAL mode and avoids an fsync per stored completion.
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('synchronous = NORMAL');
  } catch (error) {
    throw toStorageError('connect', error);
  }
  const db = new Kysely<Database>({
    dialect: new SqliteDialect({ database: sqlite }),
    ...(log ? { log } : {}),
  });
  return { db, dialect: 'sqlite', secrets: [] };
}

async function openPostgres(databaseUrl: string, log: LogConfig | undefined): Promise<Connection> {
  const secrets = secretsOf(databaseUrl);
  if (!/^postgres(?:ql)?:\/\//i.test(databaseUrl)) {
    // Say which scheme was given, never the URL: it may hold a password.
    const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(databaseUrl)?.[1] ?? '(none)';
    throw new StorageError('connect', `unsupported DATABASE_URL scheme "${scheme}": expected postgres://`);
  }
  const pool = new pg.Pool({
    connectionString: databaseUrl,
    connectionTimeoutMillis: PG_CONNECT_TIMEOUT_MS,
    max: PG_POOL_SIZE,
  });
  // An idle client whose server went away emits 'error' on the pool; unhandled, that would crash
  // the process. The pool drops the client, and the next query reports the failure as a StorageError.
  pool.on('error', () => {});
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }), ...(log ? { log } : {}) });
  let schema: string | null | undefined;
  try {
    // Fail at startup, as 'connect', rather than on the first request.
    const result = await sql<{ schema: string | null }>`select current_schema() as schema`.execute(db);
    schema = result.rows[0]?.schema;
  } catch (error) {
    await db.destroy().catch(() => {});
    throw toStorageError('connect', error, secrets);
  }
  return { db, dialect: 'postgres', secrets, ...(schema ? { schema } : {}) };
}

function isInMemory(path: string): boolean {
  return path === ':memory:' || path === '' || path.startsWith('file:');
}

function queryLogger(onQuery: StorageOptions['onQuery']): LogConfig | undefined {
  if (onQuery === undefined) return undefined;
  return (event) => onQuery(event.query.sql, event.queryDurationMillis);
}
