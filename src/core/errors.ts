/**
 * Errors with stable codes. Every failure the system reports to a person or a peer is a SlapError
 * whose code is listed here with its HTTP status (used by the master's transport) and its CLI exit
 * code (used by the CLI). This table is the single place where those mappings are decided;
 * docs/errors.md documents it and a test keeps the two in step.
 */

export interface ErrorSpec {
  /** HTTP status the master answers with. */
  readonly http: number;
  /** Exit code of a CLI command that fails with this error. */
  readonly exit: number;
  /** One line for docs/errors.md. */
  readonly summary: string;
}

/** Exit codes, in one place. */
export const EXIT = {
  ok: 0,
  failure: 1,
  /** The master accepted the request but the instance is not ready yet (as the original's `slapos request`). */
  notReady: 2,
  /** A promise failed (`slapos node promise`, `node instance`), as the original. */
  promiseFailure: 2,
  /** `node format` did its local work but the master was not told ("offline success"), as the original. */
  formatNotSent: 2,
  /** `node instance` could not reach the master and only restarted what was deployed ("offline"), as the original. */
  offline: 3,
  /** Another run of the same node command holds its lock (pidfile), as the original. */
  locked: 10,
  /** Bad command line or configuration (the original `slapos` exits 5 on usage errors). */
  usage: 5,
  /** What was asked is not supported yet. */
  notSupported: 2,
  /** The master or another peer could not be reached. */
  unavailable: 69,
  internal: 70,
} as const;

export const ERROR_CATALOG = {
  // --- generic ---
  SLAP_ERR_INTERNAL: { http: 500, exit: EXIT.internal, summary: 'Unexpected internal error (a bug).' },
  SLAP_ERR_INVALID_INPUT: {
    http: 400,
    exit: EXIT.usage,
    summary: 'A request body, argument or value does not match what is expected.',
  },
  SLAP_ERR_USAGE: { http: 400, exit: EXIT.usage, summary: 'Bad command-line usage.' },
  SLAP_ERR_CONFIG: {
    http: 500,
    exit: EXIT.usage,
    summary: 'Configuration file missing, unreadable or invalid.',
  },
  SLAP_ERR_NOT_FOUND: { http: 404, exit: EXIT.failure, summary: 'Unknown route or resource.' },
  SLAP_ERR_METHOD_NOT_ALLOWED: {
    http: 405,
    exit: EXIT.failure,
    summary: 'HTTP method not allowed on this path.',
  },
  SLAP_ERR_NOT_ACCEPTABLE: {
    http: 406,
    exit: EXIT.failure,
    summary: 'The Accept header excludes every type the route can answer with.',
  },
  SLAP_ERR_PAYLOAD_TOO_LARGE: { http: 413, exit: EXIT.failure, summary: 'Request body over the size limit.' },
  SLAP_ERR_UNAUTHENTICATED: { http: 401, exit: EXIT.failure, summary: 'The caller did not prove who it is.' },
  SLAP_ERR_FORBIDDEN: { http: 403, exit: EXIT.failure, summary: 'The caller may not do this.' },
  SLAP_ERR_UNAVAILABLE: {
    http: 503,
    exit: EXIT.unavailable,
    summary: 'A peer (the master, a download server) could not be reached or answered garbage.',
  },
  SLAP_ERR_REQUEST_TIMEOUT: {
    http: 408,
    exit: EXIT.failure,
    summary: 'The client did not send its request (headers, then body) in time; the connection is closed.',
  },
  SLAP_ERR_TIMEOUT: { http: 504, exit: EXIT.unavailable, summary: 'An operation did not finish in time.' },
  SLAP_ERR_NOT_READY: {
    http: 408,
    exit: EXIT.notReady,
    summary: 'Accepted, but not ready yet: retry later.',
  },
  SLAP_ERR_CONFLICT: {
    http: 409,
    exit: EXIT.failure,
    summary: 'The resource is in a state that forbids this.',
  },
  SLAP_ERR_NOT_SUPPORTED: {
    http: 501,
    exit: EXIT.notSupported,
    summary: 'Not supported yet.',
  },

  // --- master, JSON API v0 (slapproxy answers 403 for every "not found" or "not allowed") ---
  SLAP_ERR_ALLOCATION_FAILED: {
    http: 403,
    exit: EXIT.failure,
    summary: 'No free partition, or no host for a shared instance.',
  },
  SLAP_ERR_INSTANCE_GUID_INVALID: {
    http: 403,
    exit: EXIT.failure,
    summary: 'The instance_guid is not well formed.',
  },
  SLAP_ERR_INSTANCE_NOT_FOUND: { http: 403, exit: EXIT.failure, summary: 'No such software instance.' },
  SLAP_ERR_SHARED_INSTANCE_NOT_FOUND: { http: 403, exit: EXIT.failure, summary: 'No such shared instance.' },
  SLAP_ERR_HOST_NOT_FOUND: {
    http: 403,
    exit: EXIT.failure,
    summary: 'No partition hosts this shared instance.',
  },
  SLAP_ERR_INSTANCE_TREE_NOT_FOUND: { http: 403, exit: EXIT.failure, summary: 'No such instance tree.' },
  SLAP_ERR_PARTITION_NOT_FOUND: {
    http: 403,
    exit: EXIT.failure,
    summary: 'No such partition, or no instance on it.',
  },
  SLAP_ERR_COMPUTE_NODE_NOT_FOUND: {
    http: 403,
    exit: EXIT.failure,
    summary: 'The compute node is not registered.',
  },
  SLAP_ERR_NOT_IMPLEMENTED: {
    http: 403,
    exit: EXIT.failure,
    summary: 'The operation is not implemented for this kind of object.',
  },
  SLAP_ERR_USAGE_REPORT_INVALID: {
    http: 400,
    exit: EXIT.failure,
    summary:
      'A usage report (TioXML journal) is malformed, has a negative or non-finite quantity, an interval that ends before it starts or in the future, or too many movements; nothing of it is stored.',
  },
  SLAP_ERR_PRICE_LIST_INVALID: {
    http: 400,
    exit: EXIT.usage,
    summary:
      'A price list is not valid JSON of the documented form (ISO 4217 currency, effective day, resources with non-negative decimal prices, monthly fee).',
  },
  SLAP_ERR_INVOICE_NOT_FOUND: {
    http: 404,
    exit: EXIT.failure,
    summary: "No such invoice or credit note (or not one of the caller's).",
  },
  SLAP_ERR_USAGE_STATE_INVALID: {
    http: 500,
    exit: EXIT.failure,
    summary:
      "The node's usage journal state (var/usage-journal/state.json: its chain of sealed journals, CPU counters and unsent journals) is unreadable or invalid; restore it rather than remove it, or the master sees the chain restart.",
  },
  SLAP_ERR_HAS_CHILDREN: {
    http: 403,
    exit: EXIT.failure,
    summary: 'The instance cannot be freed yet because its tree still has child partitions.',
  },

  // --- master: software release schemas (src/master/services/software-schema.ts) ---
  SLAP_ERR_SCHEMA_UNREADABLE: {
    http: 502,
    exit: EXIT.failure,
    summary:
      "A software release's JSON schema (software.cfg.json and the schemas it names) could not be read: HTTP error, timeout, over 1 MB, not JSON, too many documents.",
  },
  SLAP_ERR_SCHEMA_LOCATION_REFUSED: {
    http: 403,
    exit: EXIT.failure,
    summary:
      'A software release schema location the master does not read: not http(s), a local file in master mode, or an address that is not public.',
  },

  // --- master's certificate authority (src/master/ca): certificate signing requests ---
  SLAP_ERR_CSR_INVALID: {
    http: 400,
    exit: EXIT.failure,
    summary:
      'A certificate request is not one PEM `CERTIFICATE REQUEST` block of ASCII text holding a well-formed PKCS#10 request.',
  },
  SLAP_ERR_CSR_TOO_LARGE: { http: 413, exit: EXIT.failure, summary: 'A certificate request is over 16 KiB.' },
  SLAP_ERR_CSR_KEY: {
    http: 400,
    exit: EXIT.failure,
    summary: "A certificate request's key is not accepted (only EC P-256/P-384 or RSA 2048 to 8192 bits).",
  },
  SLAP_ERR_CSR_SIGNATURE: {
    http: 400,
    exit: EXIT.failure,
    summary: "A certificate request's self-signature does not verify (or uses an unsupported algorithm).",
  },
  SLAP_ERR_CSR_SUBJECT: {
    http: 400,
    exit: EXIT.failure,
    summary:
      'A certificate request names a subject the master did not assign (the master decides it: leave it empty or put exactly `CN=<id>`).',
  },

  // --- node: configuration, format, promises ---
  SLAP_ERR_ROOT_REQUIRED: {
    http: 500,
    exit: EXIT.usage,
    summary: 'The command must run as root (root_check = true in system mode); use sandbox mode otherwise.',
  },
  SLAP_ERR_FORMAT_SHRINK: {
    http: 409,
    exit: EXIT.failure,
    summary: 'partition_amount is lower than the partitions already formatted; partitions are never removed.',
  },
  SLAP_ERR_RUNTIME_UNREADABLE: {
    http: 500,
    exit: EXIT.failure,
    summary:
      "The user a build or an instance profile runs as cannot reach the node's code or the node binary, or the node's runtime copy is not safe.",
  },
  SLAP_ERR_SYSTEM_COMMAND: {
    http: 500,
    exit: EXIT.failure,
    summary: 'A system command run by the node (useradd, ip, ...) failed.',
  },
  SLAP_ERR_PROMISE_FAILED: {
    http: 500,
    exit: EXIT.promiseFailure,
    summary: 'A promise (health check) of a partition failed.',
  },

  // --- node: process supervisor (src/node/supervisor) ---
  SLAP_ERR_SUPERVISOR_NOT_RUNNING: {
    http: 503,
    exit: EXIT.unavailable,
    summary: "The node's supervisor daemon is not running (its unix socket does not answer).",
  },
  SLAP_ERR_SUPERVISOR_ALREADY_RUNNING: {
    http: 409,
    exit: EXIT.failure,
    summary: 'Another supervisor daemon already serves this socket or state directory.',
  },
  SLAP_ERR_NO_SUCH_PROCESS: {
    http: 404,
    exit: EXIT.failure,
    summary: 'No supervised program or group by that name.',
  },
  SLAP_ERR_PROCESS_START_FAILED: {
    http: 500,
    exit: EXIT.failure,
    summary: 'A supervised program could not be spawned or exited while starting.',
  },

  // --- node passes: software, instance, report, boot, watchdog (src/node/software, instance, report) ---
  SLAP_ERR_LOCKED: {
    http: 409,
    exit: EXIT.locked,
    summary: 'Another run of this node command is in progress (its pidfile lock is held by a live process).',
  },
  SLAP_ERR_SOFTWARE_NOT_INSTALLED: {
    http: 409,
    exit: EXIT.failure,
    summary:
      "An instance's software release is not installed on this node yet (`slapos node software` builds it).",
  },
  SLAP_ERR_PARTITION_INVALID: {
    http: 500,
    exit: EXIT.failure,
    summary: 'A partition directory is missing or unusable (run `slapos node format`).',
  },
  SLAP_ERR_DISK_FULL: {
    http: 507,
    exit: EXIT.failure,
    summary: 'Less free disk space than software_min_free_space / instance_min_free_space.',
  },
  SLAP_ERR_BUILDOUT_FAILED: {
    http: 500,
    exit: EXIT.failure,
    summary:
      "A buildout run in a separate process (as a partition user, or a software release's own bin/buildout) failed without a structured error.",
  },

  // --- master server (src/master) and `slapos proxy start` ---
  SLAP_ERR_INSECURE_LISTEN: {
    http: 400,
    exit: EXIT.usage,
    summary:
      'Refusing to listen on a non-loopback address in proxy mode (no authentication) without --insecure-listen.',
  },
  SLAP_ERR_LISTEN_FAILED: {
    http: 500,
    exit: EXIT.unavailable,
    summary: 'The server could not listen on the requested address and port.',
  },
  SLAP_ERR_DATABASE: {
    http: 500,
    exit: EXIT.failure,
    summary: 'The database cannot be opened or migrated, or was written by a newer version.',
  },

  // --- profile engine (src/buildout, src/lib/download.ts, src/lib/archive.ts) ---
  SLAP_ERR_PROFILE_SYNTAX: {
    http: 400,
    exit: EXIT.failure,
    summary: 'A buildout profile does not parse (file:line in the message).',
  },
  SLAP_ERR_PROFILE: {
    http: 400,
    exit: EXIT.failure,
    summary:
      'A buildout profile is invalid: unknown section or option, substitution or extends cycle, bad value (section:option in the message).',
  },
  SLAP_ERR_RECIPE_UNSUPPORTED: {
    http: 400,
    exit: EXIT.failure,
    summary:
      'A profile uses a recipe or construct this engine does not run (e.g. Python code); the message names it.',
  },
  SLAP_ERR_RECIPE_FAILED: {
    http: 500,
    exit: EXIT.failure,
    summary:
      'A recipe failed while installing, updating or uninstalling a part (build step, command, template).',
  },
  SLAP_ERR_CHECKSUM_MISMATCH: {
    http: 502,
    exit: EXIT.failure,
    summary: 'A downloaded or cached file does not match its md5sum/sha256 checksum.',
  },
  SLAP_ERR_DOWNLOAD_FAILED: {
    http: 502,
    exit: EXIT.unavailable,
    summary: 'A download failed: unreachable host, HTTP error status, timeout, or refused in offline mode.',
  },
  SLAP_ERR_CACHE_REFUSED: {
    http: 502,
    exit: EXIT.failure,
    summary:
      'A networkcache (shacache/shadir) entry or blob was refused: bad or unknown signature, sha512 mismatch, truncated download, unsafe archive; the node builds instead.',
  },
  SLAP_ERR_CACHE_FORCED: {
    http: 404,
    exit: EXIT.failure,
    summary:
      'A software release listed in download-from-binary-cache-force-url-list could not be installed from the binary cache; it is never built locally.',
  },

  // --- templates (src/template: Jinja2-compatible renderer) ---
  SLAP_ERR_TEMPLATE: {
    http: 422,
    exit: EXIT.failure,
    summary:
      'A template could not be compiled or rendered (syntax error, undefined name, type error…); the message names template:line.',
  },

  // --- SlapOS cookbook recipes (src/buildout/recipes/cookbook) ---
  SLAP_ERR_PARAMETERS_INVALID: {
    http: 400,
    exit: EXIT.failure,
    summary:
      "Instance parameters do not validate against the software release's JSON schema (slapconfiguration.jsonschema); the message lists the errors.",
  },

  // --- backups (src/node/backup: restic and the repository server) ---
  SLAP_ERR_BACKUP: {
    http: 502,
    exit: EXIT.failure,
    summary:
      "restic failed (repository unreachable, refused, timed out…); the message is restic's last error lines, never a password.",
  },
  SLAP_ERR_BACKUP_CORRUPT: {
    http: 500,
    exit: EXIT.failure,
    summary:
      'A backup repository is damaged: `restic check` or a verified restore found a missing or altered pack; nothing was restored silently.',
  },
  SLAP_ERR_BACKUP_KEY: {
    http: 500,
    exit: EXIT.failure,
    summary: "A backup repository cannot be opened with the tree's password (wrong key, or no key at all).",
  },
  SLAP_ERR_RESTORE_FAILED: {
    http: 502,
    exit: EXIT.failure,
    summary:
      "A restore failed (`slapos service restore --wait`); the message is the node's: restic's reason, or the check command that failed.",
  },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERROR_CATALOG;

export interface SlapErrorOptions {
  /** What the person can do about it. */
  hint?: string;
  cause?: unknown;
  /** Override the catalog's HTTP status (rare; e.g. the legacy API's different statuses). */
  status?: number;
  /** Structured details safe to show (file:line, section:option, ...). */
  details?: Record<string, unknown>;
}

export class SlapError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  readonly status: number;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: SlapErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SlapError';
    this.code = code;
    this.hint = options.hint;
    this.status = options.status ?? ERROR_CATALOG[code].http;
    this.details = options.details;
  }

  get exitCode(): number {
    return ERROR_CATALOG[this.code].exit;
  }
}

export function isSlapError(value: unknown): value is SlapError {
  return value instanceof SlapError;
}

/** Wraps anything thrown into a SlapError, keeping SlapErrors as they are. */
export function toSlapError(value: unknown): SlapError {
  if (value instanceof SlapError) return value;
  const message = value instanceof Error ? value.message : String(value);
  return new SlapError('SLAP_ERR_INTERNAL', message, { cause: value });
}
