import { randomUUID } from 'node:crypto';
import pg from 'pg';

/**
 * A throwaway PostgreSQL schema per test file, selected through `search_path`, so migrations run
 * from zero and runs sharing one database (or earlier runs' rows) never meet.
 */

export interface PgSchema {
  name: string;
  /** The base URL with this schema as its search path. */
  url: string;
  drop(): Promise<void>;
}

export async function pgAdmin<Row extends pg.QueryResultRow = pg.QueryResultRow>(
  baseUrl: string,
  statement: string,
  values: unknown[] = [],
): Promise<Row[]> {
  const client = new pg.Client({ connectionString: baseUrl, connectionTimeoutMillis: 2_000 });
  await client.connect();
  try {
    return (await client.query<Row>(statement, values)).rows;
  } finally {
    await client.end();
  }
}

export function urlWithSchema(baseUrl: string, schema: string): string {
  const url = new URL(baseUrl);
  url.searchParams.set('options', `-c search_path=${schema}`);
  return url.toString();
}

export async function createPgSchema(baseUrl: string, prefix: string): Promise<PgSchema> {
  const name = `${prefix}_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
  await pgAdmin(baseUrl, `create schema ${name}`);
  return {
    name,
    url: urlWithSchema(baseUrl, name),
    drop: async () => {
      await pgAdmin(baseUrl, `drop schema if exists ${name} cascade`);
    },
  };
}

/** What the migrations are there to build: tables, primary keys (in key order), nullability, indexes. */
export interface SchemaShape {
  tables: string[];
  primaryKeys: Record<string, string[]>;
  /** `table.column` of every NOT NULL column. */
  notNull: string[];
  indexes: string[];
  migrations: string[];
}

export async function describePgSchema(baseUrl: string, schema: string): Promise<SchemaShape> {
  const tables = await pgAdmin<{ table_name: string }>(
    baseUrl,
    'select table_name from information_schema.tables where table_schema = $1 order by table_name',
    [schema],
  );
  const keys = await pgAdmin<{ table_name: string; column_name: string }>(
    baseUrl,
    `select k.table_name, k.column_name
       from information_schema.table_constraints c
       join information_schema.key_column_usage k
         on k.constraint_schema = c.constraint_schema and k.constraint_name = c.constraint_name
      where c.table_schema = $1 and c.constraint_type = 'PRIMARY KEY'
      order by k.table_name, k.ordinal_position`,
    [schema],
  );
  const primaryKeys: Record<string, string[]> = {};
  for (const key of keys)
    primaryKeys[key.table_name] = [...(primaryKeys[key.table_name] ?? []), key.column_name];
  const columns = await pgAdmin<{ table_name: string; column_name: string }>(
    baseUrl,
    `select table_name, column_name from information_schema.columns
      where table_schema = $1 and is_nullable = 'NO' order by table_name, column_name`,
    [schema],
  );
  const indexes = await pgAdmin<{ indexname: string }>(
    baseUrl,
    'select indexname from pg_indexes where schemaname = $1 order by indexname',
    [schema],
  );
  const hasMigrations = tables.some((t) => t.table_name === 'kysely_migration');
  const migrations = hasMigrations
    ? await pgAdmin<{ name: string }>(baseUrl, `select name from ${schema}.kysely_migration order by name`)
    : [];
  return {
    tables: tables.map((t) => t.table_name),
    primaryKeys,
    notNull: columns.map((c) => `${c.table_name}.${c.column_name}`),
    indexes: indexes.map((i) => i.indexname),
    migrations: migrations.map((m) => m.name),
  };
}
