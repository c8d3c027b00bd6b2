/**
 * A fault-injecting TCP proxy for one link between regions: one listening port per broker of
 * the source region, each forwarding to that broker's listener for the target region. Faults
 * (link-faults.ts) change at run time and apply to open connections at once.
 */
import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import type { HostPort } from '../../config/link-plan.ts';
import { GeoError } from '../../core/errors.ts';
import type { Logger } from '../../core/logger.ts';
import type { PipeShaping } from './delay-pipe.ts';
import { describeFaults } from './link-faults.ts';
import type { LinkFaults, LinkFaultsChange } from './link-faults.ts';
import { LinkConnection } from './link-connection.ts';
import type { ConnectionHooks, Direction } from './link-connection.ts';
import { LinkMetrics } from './link-metrics.ts';
import { TokenBucket, defaultBurst } from './token-bucket.ts';

export interface LinkRoute {
  readonly listen: HostPort;
  readonly upstream: HostPort;
}

export interface LinkProxyOptions {
  /** e.g. "us-east->eu-west". */
  name: string;
  routes: readonly LinkRoute[];
  /** The faults at start, and what `clear()` returns to (normally the topology's latency). */
  baseline: Readonly<LinkFaults>;
  log: Logger;
  metrics?: LinkMetrics;
}

const DIRECTIONS: readonly Direction[] = ['to-brokers', 'to-clients'];

export class LinkProxy {
  readonly name: string;
  readonly metrics: LinkMetrics;
  private faults: LinkFaults;
  private readonly baseline: Readonly<LinkFaults>;
  private buckets: Partial<Record<Direction, TokenBucket>> = {};
  private readonly servers: Server[] = [];
  private readonly open = new Set<LinkConnection>();
  private readonly log: Logger;
  private readonly routes: readonly LinkRoute[];
  private readonly hooks: ConnectionHooks;
  /** Returns the link to its baseline when the last change's `expiresInMs` runs out. */
  private expiry: { timer: NodeJS.Timeout; at: number } | undefined;

  constructor(o: LinkProxyOptions) {
    this.name = o.name;
    this.routes = o.routes;
    this.baseline = { ...o.baseline };
    this.faults = { ...o.baseline };
    this.log = o.log.child({ component: 'link-proxy', link: o.name });
    this.metrics = o.metrics ?? new LinkMetrics();
    this.hooks = {
      shaping: Object.fromEntries(DIRECTIONS.map((d) => [d, this.shapingOf(d)])) as Record<Direction, PipeShaping>,
      held: () => this.faults.blackhole,
      forwarded: (direction, bytes) => this.metrics.bytes.inc({ link: this.name, direction }, bytes),
      closed: (conn) => {
        this.open.delete(conn);
        this.metrics.connections.set({ link: this.name }, this.open.size);
      },
      log: this.log,
    };
    this.rebuildBuckets();
    this.publish();
  }

  /** Listens on every route; rejects (closing what it opened) when a port is taken. */
  async start(): Promise<void> {
    try {
      for (const route of this.routes) this.servers.push(await this.listen(route));
    } catch (err) {
      await this.close();
      throw err;
    }
    this.log.info({ routes: this.routes.map((r) => `${r.listen.port}->${r.upstream.host}:${r.upstream.port}`), faults: describeFaults(this.faults) }, 'link proxy listening');
  }

  current(): Readonly<LinkFaults> {
    return { ...this.faults };
  }

  baselineFaults(): Readonly<LinkFaults> {
    return { ...this.baseline };
  }

  /** The ports actually bound, in route order (a route may ask for port 0). */
  listeningPorts(): number[] {
    return this.servers.map((s) => {
      const a = s.address();
      return typeof a === 'object' && a !== null ? a.port : 0;
    });
  }

  connectionCount(): number {
    return this.open.size;
  }

  /** When the faults in force return to the baseline by themselves (epoch ms), if they do. */
  expiresAt(): number | undefined {
    return this.expiry?.at;
  }

  /**
   * Changes the named faults; the others stay. Reset and a healed blackhole act on open
   * connections at once. Any change cancels the previous one's expiry; `expiresInMs` sets a new one.
   */
  change(c: Readonly<LinkFaultsChange>): Readonly<LinkFaults> {
    const { reason, expiresInMs, ...faults } = c;
    this.cancelExpiry();
    if (expiresInMs !== undefined) {
      const timer = setTimeout(() => {
        this.expiry = undefined;
        this.clear(`expired ${expiresInMs} ms after the change`);
      }, expiresInMs);
      this.expiry = { timer, at: Date.now() + expiresInMs };
    }
    const before = this.faults;
    this.faults = { ...this.faults, ...faults };
    if (this.faults.bandwidthBytesPerSec !== before.bandwidthBytesPerSec) this.rebuildBuckets();
    this.publish();
    this.log.info({ faults: describeFaults(this.faults), reason, ...(expiresInMs !== undefined ? { expiresInMs } : {}) }, 'link faults changed');
    if (this.faults.reset) for (const conn of [...this.open]) conn.reset();
    for (const conn of this.open) conn.poke();
    return this.current();
  }

  /** Back to the baseline (the topology's latency, nothing else). */
  clear(reason?: string): Readonly<LinkFaults> {
    return this.change({ ...this.baseline, ...(reason ? { reason } : {}) });
  }

  /** Stops listening and closes every connection. */
  async close(): Promise<void> {
    this.cancelExpiry();
    for (const conn of [...this.open]) conn.destroy();
    await Promise.all(this.servers.splice(0).map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }

  private cancelExpiry(): void {
    if (this.expiry) clearTimeout(this.expiry.timer);
    this.expiry = undefined;
  }

  private listen(route: LinkRoute): Promise<Server> {
    return new Promise((resolve, reject) => {
      // Paused on accept: nothing is read until the connection knows where to forward it.
      const server = createServer({ allowHalfOpen: true, pauseOnConnect: true }, (socket) => this.accept(socket, route));
      server.once('error', (cause: NodeJS.ErrnoException) => {
        const code = cause.code === 'EADDRINUSE' ? 'RUNTIME_PORT_IN_USE' : 'INTERNAL';
        reject(new GeoError(code, `Link proxy ${this.name} cannot listen on ${route.listen.host}:${route.listen.port}: ${cause.message}`, { cause, details: { link: this.name, port: route.listen.port } }));
      });
      server.listen(route.listen.port, route.listen.host, () => {
        server.removeAllListeners('error');
        server.on('error', (err) => this.log.error({ err }, 'listener error'));
        resolve(server);
      });
    });
  }

  private accept(socket: Socket, route: LinkRoute): void {
    if (this.faults.reset) {
      this.metrics.accepted.inc({ link: this.name, outcome: 'reset' });
      socket.on('error', () => undefined);
      socket.resetAndDestroy();
      return;
    }
    this.metrics.accepted.inc({ link: this.name, outcome: this.faults.blackhole ? 'held' : 'forwarded' });
    const conn = new LinkConnection(socket, route.upstream, this.hooks);
    this.open.add(conn);
    this.metrics.connections.set({ link: this.name }, this.open.size);
  }

  private shapingOf(direction: Direction): PipeShaping {
    return {
      latencyMs: () => this.faults.latencyMs,
      bucket: () => this.buckets[direction],
      held: () => this.faults.blackhole,
    };
  }

  private rebuildBuckets(): void {
    const rate = this.faults.bandwidthBytesPerSec;
    this.buckets = rate === null ? {} : { 'to-brokers': new TokenBucket(rate, defaultBurst(rate)), 'to-clients': new TokenBucket(rate, defaultBurst(rate)) };
  }

  private publish(): void {
    const link = { link: this.name };
    this.metrics.latency.set(link, this.faults.latencyMs / 1000);
    this.metrics.bandwidth.set(link, this.faults.bandwidthBytesPerSec ?? 0);
    this.metrics.blackhole.set(link, this.faults.blackhole ? 1 : 0);
    this.metrics.reset.set(link, this.faults.reset ? 1 : 0);
  }
}
