/**
 * The `pg` driver's configuration from a PostgreSQL URI (parsed by database-location.ts, never by
 * the driver, so that one parser decides what a URI means), and type parsing: PostgreSQL's bigint
 * (counts, sums) reaches the repository as a number like SQLite's integers, not as a string.
 */
import pg from 'pg';
import { postgresConnection } from '../database-location.ts';

const INT8_OID = 20;

/** int8 as a number (exact up to 2^53: counts and ids of this schema stay far below). */
const parseInt8 = (value: string): number => Number(value);
const types: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary'): unknown =>
    oid === INT8_OID
      ? parseInt8
      : (pg.types.getTypeParser(oid, format) as unknown)) as pg.CustomTypesConfig['getTypeParser'],
};

export function pgClientConfig(uri: string, options: { applicationName?: string } = {}): pg.ClientConfig {
  const connection = postgresConnection(uri);
  return {
    ...(connection.user === undefined ? {} : { user: connection.user }),
    ...(connection.password === undefined ? {} : { password: connection.password }),
    ...(connection.host === undefined ? {} : { host: connection.host }),
    ...(connection.port === undefined ? {} : { port: connection.port }),
    database: connection.database,
    ssl: connection.ssl === 'require' ? { rejectUnauthorized: false } : connection.ssl === 'verify-full',
    application_name: connection.applicationName ?? options.applicationName ?? 'slapos-master',
    types,
  };
}
