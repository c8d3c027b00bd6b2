/**
 * One client connection through a link proxy and its upstream connection to a broker. The
 * upstream connection is opened only while the link is not blackholed (a partitioned route
 * lets no handshake through), and a failure upstream is passed on as the client would see it
 * without the proxy: a refused or reset broker connection resets the client's.
 */
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import type { HostPort } from '../../config/link-plan.ts';
import type { Logger } from '../../core/logger.ts';
import { DelayPipe } from './delay-pipe.ts';
import type { PipeShaping } from './delay-pipe.ts';

export type Direction = 'to-brokers' | 'to-clients';

export interface ConnectionHooks {
  shaping: Readonly<Record<Direction, PipeShaping>>;
  /** True while the link lets no byte (and no new upstream handshake) through. */
  held(): boolean;
  forwarded(direction: Direction, bytes: number): void;
  closed(connection: LinkConnection): void;
  log: Logger;
}

export class LinkConnection {
  private upstream: Socket | undefined;
  private readonly pipes: DelayPipe[] = [];
  private done = false;

  constructor(
    private readonly client: Socket,
    private readonly target: HostPort,
    private readonly hooks: ConnectionHooks,
  ) {
    client.setNoDelay(true);
    client.on('error', (err) => this.hooks.log.debug({ err }, 'client socket error'));
    client.once('close', () => this.finish('client'));
    this.poke();
  }

  /** Re-evaluates after a fault changed: opens the upstream once a blackhole healed, moves queued bytes. */
  poke(): void {
    if (this.done) return;
    if (!this.upstream && !this.hooks.held()) this.openUpstream();
    for (const p of this.pipes) p.poke();
  }

  /** TCP RST on both sides, as a middlebox that drops the connection state would cause. */
  reset(): void {
    if (this.done) return;
    this.client.resetAndDestroy();
    this.upstream?.resetAndDestroy();
    this.finish('reset');
  }

  /** Closes both sides (proxy shutdown). */
  destroy(): void {
    this.client.destroy();
    this.upstream?.destroy();
    this.finish('shutdown');
  }

  private openUpstream(): void {
    const upstream = connect({ host: this.target.host, port: this.target.port, allowHalfOpen: true });
    this.upstream = upstream;
    upstream.setNoDelay(true);
    let connected = false;
    upstream.once('connect', () => {
      connected = true;
      if (this.done) {
        upstream.destroy();
        return;
      }
      this.pipes.push(
        new DelayPipe(this.client, upstream, this.hooks.shaping['to-brokers'], (n) => this.hooks.forwarded('to-brokers', n)),
        new DelayPipe(upstream, this.client, this.hooks.shaping['to-clients'], (n) => this.hooks.forwarded('to-clients', n)),
      );
      for (const p of this.pipes) p.poke();
    });
    upstream.on('error', (err: NodeJS.ErrnoException) => {
      this.hooks.log.debug({ err, connected }, 'upstream socket error');
      // Refused (broker down) or reset by the broker: the client sees a reset too.
      if (!connected || err.code === 'ECONNRESET') this.client.resetAndDestroy();
    });
    upstream.once('close', () => this.finish('upstream'));
  }

  private finish(why: string): void {
    if (this.done) return;
    this.done = true;
    for (const p of this.pipes) p.close();
    if (!this.client.destroyed) this.client.destroy();
    if (this.upstream && !this.upstream.destroyed) this.upstream.destroy();
    this.hooks.log.debug({ why }, 'connection closed');
    this.hooks.closed(this);
  }
}
