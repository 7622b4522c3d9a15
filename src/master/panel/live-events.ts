/**
 * `/panel/events`: the master's change stream for open pages (server-sent events). Every committed
 * write, coalesced over a few milliseconds, sends one `change` event carrying nothing (a page learns
 * nothing of other users' data: it fetches itself again, through its own authorization). A comment
 * every 20 s keeps proxies from closing an idle stream. Streams end when the master closes.
 */
import type { ServerResponse } from 'node:http';
import type { FastifyReply } from 'fastify';
import { SlapError } from '../../core/errors.ts';
import type { MasterServices } from '../services/index.ts';

export interface LiveEventsOptions {
  /** Changes closer than this are one event (default 50 ms). */
  coalesceMs?: number;
  heartbeatMs?: number;
  /** Open streams at most (each holds a connection). */
  maxStreams?: number;
}

export class LiveEvents {
  private readonly streams = new Set<ServerResponse>();
  private unsubscribe: (() => void) | undefined;
  private pending: NodeJS.Timeout | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly services: MasterServices,
    private readonly options: LiveEventsOptions = {},
  ) {}

  /** Turns the reply into an event stream (the request was authenticated). */
  open(reply: FastifyReply): void {
    if (this.closed) throw new SlapError('SLAP_ERR_UNAVAILABLE', 'the master is closing');
    if (this.streams.size >= (this.options.maxStreams ?? 256))
      throw new SlapError(
        'SLAP_ERR_UNAVAILABLE',
        'too many live pages are open: this page will not update by itself',
      );
    reply.hijack();
    const response = reply.raw;
    response.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      'x-accel-buffering': 'no',
    });
    response.write('retry: 2000\n\n');
    this.streams.add(response);
    response.once('close', () => this.drop(response));
    this.unsubscribe ??= this.services.watchMasterChanges({ listener: () => this.changed() });
    this.heartbeat ??= setInterval(() => this.send(': keep-alive\n\n'), this.options.heartbeatMs ?? 20_000);
    this.heartbeat.unref();
  }

  /** Ends every stream (the master is closing: browsers reconnect to another master or later). */
  close(): void {
    this.closed = true;
    for (const response of this.streams) response.end();
    this.streams.clear();
    this.stop();
  }

  get size(): number {
    return this.streams.size;
  }

  private changed(): void {
    this.pending ??= setTimeout(() => {
      this.pending = undefined;
      this.send('event: change\ndata: {}\n\n');
    }, this.options.coalesceMs ?? 50);
  }

  private send(text: string): void {
    for (const response of this.streams) response.write(text);
  }

  private drop(response: ServerResponse): void {
    this.streams.delete(response);
    if (this.streams.size === 0) this.stop();
  }

  private stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    clearTimeout(this.pending);
    this.pending = undefined;
    clearInterval(this.heartbeat);
    this.heartbeat = undefined;
  }
}
