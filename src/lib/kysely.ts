/**
 * Kysely for the project's code: every value import of Kysely goes through here (eslint refuses
 * others), so that its one-file bundle is loaded when the build made one of the installed version
 * (vendor-bundles.ts), the package otherwise. Types come from the package.
 */
import type * as KyselyPackage from 'kysely';
import { VENDOR_BUNDLES, vendorSpecifier } from './vendor-bundles.ts';

const specifier = vendorSpecifier(VENDOR_BUNDLES.kysely);
const kysely = (await import(specifier)) as typeof KyselyPackage;

/** Which Kysely was loaded: `bundle` or `package` (for tests and benchmarks). */
export const KYSELY_SOURCE: 'bundle' | 'package' = specifier === 'kysely' ? 'package' : 'bundle';

export const { Kysely, Migrator, PostgresDialect, SqliteDialect, sql } = kysely;
export type Kysely<DB> = KyselyPackage.Kysely<DB>;
export type Migrator = KyselyPackage.Migrator;
export type SqliteDialect = KyselyPackage.SqliteDialect;
export type PostgresDialect = KyselyPackage.PostgresDialect;
export type {
  ColumnDefinitionBuilder,
  ColumnType,
  Compilable,
  Generated,
  Migration,
  MigrationProvider,
  Selectable,
} from 'kysely';
