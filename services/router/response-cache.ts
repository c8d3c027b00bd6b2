/**
 * Serve-stale-on-error: the last good answer (200) per normalized query, in Redis, with the
 * region that served it, its freshness and when it was stored. Best effort on both sides:
 * writes are fire-and-forget and throttled per key (`refreshMs`), reads give up after a short
 * timeout, and Redis being down only means there is nothing stale to serve.
 */
import { Redis } from 'ioredis';
import type { Logger } from '../../core/logger.ts';

export interface CachedAnswer {
  region: string;
  /** The region's freshness when it answered; null when unknown. */
  freshnessMs: number | null;
  storedAt: number;
  contentType: string;
  body: string;
}

export interface ResponseCacheOptions {
  url: string;
  keyPrefix: string;
  ttlSec: number;
  refreshMs: number;
  log: Logger;
  readTimeoutMs?: number;
  onOperation?: (op: 'read' | 'write', outcome: 'hit' | 'miss' | 'ok' | 'error') => void;
}

/** Keys whose last write time is remembered for throttling; beyond that the oldest are forgotten. */
const MAX_TRACKED_KEYS = 10_000;

export class ResponseCache {
  private readonly redis: Redis;
  private readonly written = new Map<string, number>();
  private lastErrorLog = 0;

  constructor(private readonly o: ResponseCacheOptions) {
    this.redis = new Redis(o.url, {
      lazyConnect: false,
      // Fail commands at once while disconnected instead of queueing them behind a dead server.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      connectTimeout: 2_000,
      retryStrategy: (times) => Math.min(2_000, 100 * times),
    });
    this.redis.on('error', (err: unknown) => this.logError(err, 'redis'));
  }

  /** Resolves once connected, or after `timeoutMs` (the cache is optional: the router starts without it). */
  async ready(timeoutMs = 1_000): Promise<boolean> {
    if (this.redis.status === 'ready') return true;
    return new Promise<boolean>((resolve) => {
      const done = (ok: boolean): void => {
        clearTimeout(timer);
        this.redis.off('ready', onReady);
        resolve(ok);
      };
      const onReady = (): void => done(true);
      const timer = setTimeout(() => done(false), timeoutMs);
      this.redis.once('ready', onReady);
    });
  }

  /** Stores `answer` unless this key was written less than refreshMs ago. Never throws, never waits. */
  store(key: string, answer: CachedAnswer): void {
    const now = answer.storedAt;
    const last = this.written.get(key);
    if (last !== undefined && now - last < this.o.refreshMs) return;
    this.written.delete(key);
    this.written.set(key, now);
    if (this.written.size > MAX_TRACKED_KEYS) {
      const oldest = this.written.keys().next().value;
      if (oldest !== undefined) this.written.delete(oldest);
    }
    this.redis.set(key, JSON.stringify(answer), 'EX', this.o.ttlSec).then(
      () => this.o.onOperation?.('write', 'ok'),
      (err: unknown) => {
        this.written.delete(key);
        this.o.onOperation?.('write', 'error');
        this.logError(err, 'cache write');
      },
    );
  }

  /** The cached answer, or undefined (none, unreadable, or Redis too slow or down). */
  async lookup(key: string): Promise<CachedAnswer | undefined> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), this.o.readTimeoutMs ?? 250);
    });
    try {
      const text = await Promise.race([this.redis.get(key), timeout]);
      if (text === undefined) {
        this.o.onOperation?.('read', 'error');
        return undefined;
      }
      if (text === null) {
        this.o.onOperation?.('read', 'miss');
        return undefined;
      }
      const answer = JSON.parse(text) as CachedAnswer;
      this.o.onOperation?.('read', 'hit');
      return answer;
    } catch (err) {
      this.o.onOperation?.('read', 'error');
      this.logError(err, 'cache read');
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }

  /** At most one error line per 10 s: a Redis outage must not flood the log at request rate. */
  private logError(err: unknown, what: string): void {
    const now = Date.now();
    if (now - this.lastErrorLog < 10_000) return;
    this.lastErrorLog = now;
    this.o.log.warn({ err, what }, 'serve-stale cache unavailable');
  }
}
