/**
 * Where a master's database is: a SQLite file (a path, or a `sqlite:` URI) or a PostgreSQL database
 * (`postgresql://USER[:PASSWORD]@HOST[:PORT]/DB`, `postgres://…`, `?host=/run/postgresql` for a unix
 * socket). Read from `--database`, `[slapproxy] database_uri` and `[master] database_uri`.
 *
 * A PostgreSQL URI may carry a password: no error here repeats the URI or any part of it but the
 * name of a query parameter, and `describeDatabaseLocation` names host and database only.
 */
import { resolve } from 'node:path';
import { SlapError } from '../../core/errors.ts';

export type DatabaseLocation = { kind: 'sqlite'; path: string } | { kind: 'postgres'; uri: string };

/** What the PostgreSQL driver needs, decoded from the URI. */
export interface PostgresConnection {
  /** Absent: the driver's default (the OS user). */
  user?: string | undefined;
  password?: string | undefined;
  /** A host name, an IP address (IPv6 without brackets), or the directory of a unix socket. */
  host?: string | undefined;
  port?: number | undefined;
  database: string;
  ssl?: 'disable' | 'require' | 'verify-full' | undefined;
  applicationName?: string | undefined;
}

const URI_SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*):/;
const POSTGRES_SCHEME = /^postgres(?:ql)?:\/\//i;
const SSL_MODES = new Set(['disable', 'require', 'verify-full']);
const HOST_NAME =
  /^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.?$/;
const IPV6 = /^[0-9A-Fa-f:.]+$/;
const URI_HINT =
  'postgresql://USER[:PASSWORD]@HOST[:PORT]/DB (or ?host=/run/postgresql for a unix socket); ' +
  'percent-encode @ : / ? # % in the user, the password and the database name';

/**
 * Parse a database location. `where` names its source for errors (`--database`, `FILE [slapproxy]
 * database_uri`); with `cwd`, a relative SQLite path is resolved against it.
 */
export function parseDatabaseLocation(
  value: string,
  where: string,
  options: { cwd?: string | undefined } = {},
): DatabaseLocation {
  const sqlitePath = (path: string): DatabaseLocation => {
    if (path === '' || path.includes('\0'))
      throw new SlapError('SLAP_ERR_CONFIG', `${where}: the SQLite path is empty or holds a NUL character`);
    return { kind: 'sqlite', path: options.cwd === undefined ? path : resolve(options.cwd, path) };
  };
  if (value.startsWith('sqlite://')) return sqlitePath(value.slice('sqlite://'.length).replace(/^\/+/, '/'));
  if (value.startsWith('sqlite:')) return sqlitePath(value.slice('sqlite:'.length));
  if (POSTGRES_SCHEME.test(value)) {
    postgresConnection(value, where);
    return { kind: 'postgres', uri: value };
  }
  const scheme = URI_SCHEME.exec(value)?.[1];
  // No scheme, or a one-letter one (a Windows drive): a path.
  if (scheme === undefined || scheme.length === 1) return sqlitePath(value);
  throw new SlapError(
    'SLAP_ERR_CONFIG',
    `${where}: unknown database URI scheme${/^[A-Za-z][A-Za-z0-9+.-]{0,30}$/.test(scheme) ? ` ${JSON.stringify(scheme)}` : ''}`,
    {
      hint: `give the path of a SQLite file, a sqlite: URI (sqlite:///srv/proxy.db) or a PostgreSQL URI: ${URI_HINT}`,
    },
  );
}

/** The decoded parts of a PostgreSQL URI, or a SLAP_ERR_CONFIG error that never repeats them. */
export function postgresConnection(uri: string, where = 'the database URI'): PostgresConnection {
  const refuse = (what: string): never => {
    throw new SlapError('SLAP_ERR_CONFIG', `${where}: invalid PostgreSQL URI: ${what}`, { hint: URI_HINT });
  };
  const decode = (text: string, what: string): string => {
    let decoded: string;
    try {
      decoded = decodeURIComponent(text);
    } catch {
      return refuse(`bad percent-encoding in the ${what}`);
    }
    if (decoded.includes('\0')) refuse(`the ${what} holds a NUL character`);
    return decoded;
  };
  const parsePort = (text: string): number => {
    if (!/^\d{1,5}$/.test(text) || Number(text) < 1 || Number(text) > 65535)
      refuse('the port must be a number from 1 to 65535');
    return Number(text);
  };
  const match = /^postgres(?:ql)?:\/\/([^/?#]*)(?:\/([^?#]*))?(?:\?([^#]*))?$/i.exec(uri);
  if (match === null) return refuse('expected scheme://authority/database[?parameters], without a #fragment');
  const [, authority = '', path, query] = match;
  const connection: PostgresConnection = { database: '' };

  const at = authority.lastIndexOf('@');
  const userinfo = at < 0 ? undefined : authority.slice(0, at);
  const hostPort = at < 0 ? authority : authority.slice(at + 1);
  if (userinfo !== undefined) {
    if (userinfo.includes('@')) refuse('a raw @ in the user or the password');
    const colon = userinfo.indexOf(':');
    const user = decode(colon < 0 ? userinfo : userinfo.slice(0, colon), 'user');
    if (user === '') refuse('an empty user');
    connection.user = user;
    if (colon >= 0) connection.password = decode(userinfo.slice(colon + 1), 'password');
  }

  const hostMatch = /^(\[[^\]]*\]|[^:[\]]*)(?::([^:]*))?$/.exec(hostPort);
  if (hostMatch === null) refuse('the host must be a name, an IPv4 address or [an IPv6 address]');
  const [, rawHost = '', rawPort] = hostMatch as RegExpExecArray;
  if (rawHost.startsWith('[')) {
    const address = rawHost.slice(1, -1);
    if (!IPV6.test(address) || !address.includes(':')) refuse('a bad IPv6 address');
    connection.host = address;
  } else if (rawHost !== '') {
    const host = decode(rawHost, 'host');
    if (!host.startsWith('/') && !HOST_NAME.test(host))
      refuse('the host must be a name, an IPv4 address, [an IPv6 address] or a socket directory');
    connection.host = host;
  }
  if (rawPort !== undefined) connection.port = parsePort(rawPort);

  if (path === undefined) return refuse('no database name (postgresql://…/DB)');
  connection.database = decode(path, 'database name');
  if (connection.database === '') refuse('no database name (postgresql://…/DB)');

  for (const pair of query === undefined || query === '' ? [] : query.split('&')) {
    const equals = pair.indexOf('=');
    const name = equals < 0 ? pair : pair.slice(0, equals);
    const value = decode(equals < 0 ? '' : pair.slice(equals + 1), 'query');
    if (name === 'host') {
      if (!value.startsWith('/')) refuse('the host parameter must be the directory of a unix socket');
      connection.host = value;
    } else if (name === 'port') connection.port = parsePort(value);
    else if (name === 'sslmode') {
      if (!SSL_MODES.has(value)) refuse('sslmode must be disable, require or verify-full');
      connection.ssl = value as PostgresConnection['ssl'];
    } else if (name === 'application_name') connection.applicationName = value;
    else
      refuse(
        /^[A-Za-z_]{1,40}$/.test(name)
          ? `unknown parameter ${JSON.stringify(name)} (host, port, sslmode, application_name)`
          : 'an unknown parameter (host, port, sslmode, application_name)',
      );
  }
  if (connection.host === undefined) refuse('no host (HOST, or ?host=/socket/directory)');
  return connection;
}

/** A location for logs and messages: the file, or PostgreSQL's host and database (never the user or password). */
export function describeDatabaseLocation(location: DatabaseLocation): string {
  if (location.kind === 'sqlite') return location.path;
  try {
    const { host, port, database } = postgresConnection(location.uri);
    return `the PostgreSQL database ${JSON.stringify(database)} on ${host ?? 'localhost'}${port === undefined ? '' : `:${port}`}`;
  } catch {
    return 'the PostgreSQL database';
  }
}

/** The URI of a PostgreSQL connection: `postgresConnection(postgresUri(c))` gives `c` back. */
export function postgresUri(connection: PostgresConnection): string {
  const e = encodeURIComponent;
  const { user, password, host, port, database } = connection;
  const userinfo = user === undefined ? '' : `${e(user)}${password === undefined ? '' : `:${e(password)}`}@`;
  const socket = host !== undefined && host.startsWith('/');
  const authority = socket || host === undefined ? '' : host.includes(':') ? `[${host}]` : host;
  const query = [
    ...(socket ? [`host=${e(host)}`] : []),
    ...(port === undefined ? [] : [`port=${port}`]),
    ...(connection.ssl === undefined ? [] : [`sslmode=${connection.ssl}`]),
    ...(connection.applicationName === undefined
      ? []
      : [`application_name=${e(connection.applicationName)}`]),
  ];
  return `postgresql://${userinfo}${authority}/${e(database)}${query.length === 0 ? '' : `?${query.join('&')}`}`;
}
