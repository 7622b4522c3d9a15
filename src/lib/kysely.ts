/**
 * Kysely for the project's code: every value import of Kysely goes through here (eslint refuses
 * others), so that the one-file bundle of the package is loaded when the build made one of the
 * installed version (kysely-bundle.ts), the package otherwise. Types come from the package.
 */
import type * as KyselyPackage from 'kysely';
import { installedKyselyVersion, usableKyselyBundle } from './kysely-bundle.ts';

const bundle = usableKyselyBundle(
  new URL('../../vendor/', import.meta.url),
  installedKyselyVersion(import.meta.resolve('kysely')),
);
const kysely = (await import(bundle === undefined ? 'kysely' : bundle.href)) as typeof KyselyPackage;

/** Which Kysely was loaded: `bundle` or `package` (for tests and benchmarks). */
export const KYSELY_SOURCE: 'bundle' | 'package' = bundle === undefined ? 'package' : 'bundle';

export const { Kysely, Migrator, SqliteDialect, sql } = kysely;
export type Kysely<DB> = KyselyPackage.Kysely<DB>;
export type Migrator = KyselyPackage.Migrator;
export type SqliteDialect = KyselyPackage.SqliteDialect;
export type { ColumnType, Compilable, Generated, Migration, MigrationProvider, Selectable } from 'kysely';
