/**
 * Commits announced to the other masters on the same PostgreSQL database (LISTEN/NOTIFY): each
 * write transaction that changed data sends, before its COMMIT (so that the notice is delivered if
 * and only if the transaction commits), which compute nodes' revisions it bumped. Every master
 * LISTENs on a dedicated connection: a notice from another master invalidates its memoized reads
 * and wakes the node change listeners, so that the change stream works whichever master a node is
 * connected to. After a lost connection it LISTENs again and treats everything as changed.
 */
import pg from 'pg';
import type { Logger } from '../../../lib/logger.ts';

export const CHANGES_CHANNEL = 'slapos_master_changes';

/** PostgreSQL refuses a payload of 8000 bytes or more. */
const MAX_PAYLOAD_BYTES = 7900;
/** Beyond this many notices for one commit, one "everything changed" notice is sent instead. */
const MAX_NOTICES = 16;

export interface ChangeNotice {
  /** The store that committed (a master ignores its own notices: it acted at its commit). */
  origin: string;
  /** The compute nodes whose revision was bumped (to wake), or 'all' when too many to list. */
  nodes: readonly string[] | 'all';
  /** The other compute nodes whose data changed (their memoized reads are stale; memo-versions.ts). */
  changed: readonly string[];
  /** The commit changed data attributed to no node: every memoized read is stale. */
  unattributed: boolean;
}

/** What a commit changed beyond the nodes it bumped, for the other masters' memoized reads. */
export interface CommitScopes {
  nodes: Iterable<string>;
  unattributed: boolean;
}

/**
 * The payloads announcing one commit: JSON, each under PostgreSQL's limit. `n` lists the nodes to
 * wake, `c` the other nodes whose data changed, `u` a change attributed to no node.
 */
export function encodeChangeNotices(
  origin: string,
  nodes: Iterable<string>,
  scopes: CommitScopes = { nodes: [], unattributed: false },
): string[] {
  const wake = new Set(nodes);
  const entries: ['n' | 'c', string][] = [...wake].map((node) => ['n', node]);
  for (const node of scopes.nodes) if (!wake.has(node)) entries.push(['c', node]);
  const payloads: string[] = [];
  const encode = (chunk: { n: string[]; c: string[] }): string =>
    JSON.stringify({
      o: origin,
      n: chunk.n,
      ...(chunk.c.length > 0 && { c: chunk.c }),
      ...(scopes.unattributed && { u: 1 }),
    });
  let chunk = { n: [] as string[], c: [] as string[] };
  let size = 0;
  const base = Buffer.byteLength(encode(chunk)) + '"c":[],'.length;
  for (const [kind, node] of entries) {
    const bytes = Buffer.byteLength(JSON.stringify(node)) + 1;
    if (chunk.n.length + chunk.c.length > 0 && base + size + bytes > MAX_PAYLOAD_BYTES) {
      payloads.push(encode(chunk));
      chunk = { n: [], c: [] };
      size = 0;
    }
    chunk[kind].push(node);
    size += bytes;
  }
  payloads.push(encode(chunk));
  const tooLarge = payloads.some((payload) => Buffer.byteLength(payload) > MAX_PAYLOAD_BYTES);
  if (payloads.length > MAX_NOTICES || tooLarge) return [JSON.stringify({ o: origin, all: true })];
  return payloads;
}

const isStringList = (value: unknown): value is string[] =>
  Array.isArray(value) && value.every((item) => typeof item === 'string');

/** A notice's content; anything unreadable counts as "everything changed". */
export function decodeChangeNotice(payload: string | undefined): ChangeNotice {
  try {
    const value = JSON.parse(payload ?? '') as unknown;
    if (typeof value === 'object' && value !== null) {
      const { o, n, c, u } = value as { o?: unknown; n?: unknown; c?: unknown; u?: unknown };
      const origin = typeof o === 'string' ? o : '';
      if (isStringList(n) && (c === undefined || isStringList(c)))
        return { origin, nodes: n, changed: c ?? [], unattributed: u !== undefined };
      return { origin, nodes: 'all', changed: [], unattributed: true };
    }
  } catch {
    // Fall through: unreadable.
  }
  return { origin: '', nodes: 'all', changed: [], unattributed: true };
}

export interface ChangeListenerOptions {
  config: pg.ClientConfig;
  logger?: Logger | undefined;
  /** A notice from another master. */
  onNotice: (notice: ChangeNotice) => void;
  /** Listening again after a lost connection: notices may have been missed. */
  onReconnected: () => void;
  /** First delay before reconnecting, doubled up to maxDelayMs (defaults 100 and 5000). */
  minDelayMs?: number;
  maxDelayMs?: number;
}

/** The dedicated LISTEN connection of one store, reconnecting by itself. */
export class ChangeListener {
  private client: pg.Client | undefined;
  private closed = false;
  private timer: NodeJS.Timeout | undefined;
  private delayMs: number;
  private connecting: Promise<void> | undefined;

  constructor(private readonly options: ChangeListenerOptions) {
    this.delayMs = options.minDelayMs ?? 100;
  }

  /** Whether notices are being received now (else memoized reads may be stale). */
  get listening(): boolean {
    return this.client !== undefined;
  }

  /** Connects and LISTENs; rejects if that fails (the store is then not opened). */
  start(): Promise<void> {
    return this.connect();
  }

  private async connect(): Promise<void> {
    const client = new pg.Client(this.options.config);
    // Failures before the LISTEN are the caller's (connect() rejects); after it, this reconnects.
    let ready = false;
    let lost = false;
    const onLost = (error?: Error): void => {
      if (!ready || lost) return;
      lost = true;
      if (this.client === client) this.client = undefined;
      if (this.closed) return;
      this.options.logger?.warn(
        { err: error },
        'the PostgreSQL change notices connection was lost; reconnecting',
      );
      this.scheduleReconnect();
    };
    client.on('error', onLost);
    client.on('end', () => onLost());
    client.on('notification', (message) => {
      if (message.channel === CHANGES_CHANNEL) this.options.onNotice(decodeChangeNotice(message.payload));
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANGES_CHANNEL}`);
    } catch (error) {
      await client.end().catch(() => undefined);
      throw error;
    }
    if (this.closed) {
      await client.end().catch(() => undefined);
      return;
    }
    ready = true;
    this.client = client;
    this.delayMs = this.options.minDelayMs ?? 100;
  }

  private scheduleReconnect(): void {
    if (this.closed || this.timer !== undefined || this.connecting !== undefined) return;
    const delay = this.delayMs;
    this.delayMs = Math.min(this.delayMs * 2, this.options.maxDelayMs ?? 5000);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.connecting = this.connect().then(
        () => {
          this.connecting = undefined;
          if (!this.closed) {
            this.options.logger?.info('listening to PostgreSQL change notices again');
            this.options.onReconnected();
          }
        },
        () => {
          this.connecting = undefined;
          this.scheduleReconnect();
        },
      );
    }, delay);
    this.timer.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.connecting?.catch(() => undefined);
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }
}
