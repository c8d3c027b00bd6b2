/**
 * The routing core, independent of HTTP: for each search it resolves the client's region,
 * ranks the regions (configured latency refined by measured round trips), plans the eligible
 * ones (route-plan.ts), tries them in order within the deadline — retries bounded by the retry
 * budget, an optional hedge after the primary's p95 under the hedge budget — and, when no
 * region answers, serves the last good answer from the cache or fails with 503.
 *
 * It owns its resources: health probers, upstream connection pools, the NATS drain watcher and
 * the Redis cache connection; `stop()` releases them all.
 */
import { randomUUID } from 'node:crypto';
import type { Deployment, RouterConfig } from '../../config/schema.ts';
import { GeoError, isGeoError } from '../../core/errors.ts';
import type { Logger } from '../../core/logger.ts';
import { withRetry } from '../../core/retry.ts';
import { resolveClientRegion } from '../../topology/client-region.ts';
import type { ClientHints } from '../../topology/client-region.ts';
import { rankRegions } from '../../topology/rank.ts';
import { Topology } from '../../topology/topology.ts';
import { Budget } from './budget.ts';
import { cacheKey, normalizedQuery, ROUTING_PARAMS } from './cache-key.ts';
import type { DrainRecord } from './drain-record.ts';
import { DrainStore } from './drain-store.ts';
import { FailoverLog } from './failover-log.ts';
import { RegionMonitor } from './region-monitor.ts';
import { ResponseCache } from './response-cache.ts';
import { planRoute } from './route-plan.ts';
import type { Candidate, RegionView, RouteReason } from './route-plan.ts';
import { RouterMetrics } from './router-metrics.ts';
import type { RouterStatus } from './router-status.ts';
import type { UpstreamRequest, UpstreamResponse } from './upstream-client.ts';
import { wasAborted } from './upstream-client.ts';

export interface GeoRouterOptions {
  deployment: Readonly<Deployment>;
  /** The region this router runs in: reported in its status and logs. */
  region: string;
  log: Logger;
  /** The deployment's `router` section by default; tests override single fields (bucket, key prefix, timings). */
  settings?: Readonly<RouterConfig>;
  /** Where each region's search endpoint listens; 127.0.0.1:<ports.search> by default. */
  endpoints?: Readonly<Record<string, { host: string; port: number }>>;
  metrics?: RouterMetrics;
  /** For slow-start diversions; Math.random by default. */
  random?: () => number;
}

export interface SearchCall {
  method: 'GET' | 'POST';
  /** The query string as received; routing hints are taken out before it is forwarded. */
  params: URLSearchParams;
  body?: Buffer | undefined;
  contentType?: string | undefined;
  hints: ClientHints;
}

export interface RoutedAnswer {
  status: number;
  contentType: string;
  body: Buffer;
  headers: Record<string, string>;
  reason: RouteReason | undefined;
  region: string | undefined;
}

/** Seconds a client should wait after a 503 from the router: regions come back within a few probes. */
const RETRY_AFTER_SEC = 1;

export class GeoRouter {
  readonly topology: Topology;
  readonly metrics: RouterMetrics;
  readonly settings: Readonly<RouterConfig>;
  readonly instance = randomUUID().slice(0, 8);
  readonly region: string;
  private readonly monitors = new Map<string, RegionMonitor>();
  private readonly retryBudget: Budget;
  private readonly hedgeBudget: Budget;
  private readonly failovers = new FailoverLog();
  private readonly log: Logger;
  private readonly random: () => number;
  private readonly startedAt = new Date();
  private cache: ResponseCache | undefined;
  private drains: DrainStore | undefined;
  private readonly throttle = new Map<string, { at: number; suppressed: number }>();

  constructor(o: GeoRouterOptions) {
    this.topology = new Topology(o.deployment);
    this.region = this.topology.region(o.region).name;
    this.settings = o.settings ?? o.deployment.router;
    this.metrics = o.metrics ?? new RouterMetrics();
    this.log = o.log.child({ component: 'geo-router', router: this.instance });
    this.random = o.random ?? Math.random;
    const now = Date.now;
    this.retryBudget = new Budget({ ratio: this.settings.retryBudget.ratio, minPerSec: this.settings.retryBudget.minPerSec, now });
    this.hedgeBudget = new Budget({ ratio: this.settings.hedging.ratio, minPerSec: this.settings.hedging.minPerSec, now });
    for (const r of this.topology.regions) {
      const endpoint = o.endpoints?.[r.name] ?? { host: '127.0.0.1', port: r.ports.search };
      this.monitors.set(
        r.name,
        new RegionMonitor({
          region: r.name,
          ...endpoint,
          settings: this.settings,
          log: this.log,
          now,
          onProbe: (region, result) => this.metrics.probes.inc({ region, outcome: result.ok ? 'ok' : 'failed' }),
        }),
      );
    }
  }

  /** Connects the drain bucket and the cache, and waits for the first probe of every region. */
  async start(): Promise<void> {
    this.drains = await DrainStore.open({
      url: this.settings.nats.url,
      bucket: this.settings.nats.bucket,
      log: this.log,
      onRecord: (region, record, initial) => this.applyDrain(region, record, initial),
    });
    const s = this.settings.redis;
    this.cache = new ResponseCache({ url: s.url, keyPrefix: s.keyPrefix, ttlSec: s.ttlSec, refreshMs: s.refreshMs, log: this.log, onOperation: (op, outcome) => this.metrics.cache.inc({ op, outcome }) });
    const [cacheReady] = await Promise.all([this.cache.ready(), ...[...this.monitors.values()].map((m) => m.prober.start())]);
    if (!cacheReady) this.log.warn({ url: s.url }, 'Redis is not answering: no stale answers can be served until it does');
    this.log.info({ regions: this.status().regions.map((r) => ({ region: r.region, healthy: r.healthy, phase: r.phase, fresh: r.fresh })) }, 'router started');
  }

  async stop(): Promise<void> {
    await Promise.all([...this.monitors.values()].map((m) => m.close()));
    await this.drains?.close();
    await this.cache?.close();
  }

  /** Routes one search; rejects only for bad client input (unknown region, bad coordinates). */
  async route(call: SearchCall): Promise<RoutedAnswer> {
    const t0 = performance.now();
    const home = resolveClientRegion(this.topology, call.hints);
    this.retryBudget.recordRequest();
    this.hedgeBudget.recordRequest();
    const now = Date.now();
    const views = new Map<string, RegionView>();
    const measured = new Map<string, number>();
    for (const [name, m] of this.monitors) {
      views.set(name, m.view(now));
      const rtt = m.prober.state().rttMs;
      if (rtt !== undefined) measured.set(name, rtt);
    }
    const ranking = rankRegions(this.topology, home.region, { measuredRttMs: measured, measuredWeight: this.settings.measuredRttWeight }).map((r) => r.region);
    const plan = planRoute(ranking, views, this.random);

    const forwarded = new URLSearchParams([...call.params].filter(([k]) => !ROUTING_PARAMS.has(k)));
    const qs = forwarded.toString();
    const request: Omit<UpstreamRequest, 'timeoutMs'> = { method: call.method, path: qs === '' ? '/search' : `/search?${qs}`, body: call.method === 'POST' ? (call.body ?? Buffer.from('{}')) : undefined, contentType: call.contentType };

    let served: { index: number; response: UpstreamResponse } | undefined;
    let failure: unknown;
    if (plan.candidates.length > 0) {
      try {
        served = await this.tryCandidates(plan.candidates, request, t0);
      } catch (err) {
        failure = err;
      }
    } else {
      failure = new GeoError('SEARCH_UNAVAILABLE', 'No region is healthy and taking traffic.', { details: { regions: ranking } });
    }
    const key = cacheKey(this.settings.redis.keyPrefix, normalizedQuery(call.method, call.params, call.body));

    if (served !== undefined) {
      const c = plan.candidates[served.index] as Candidate;
      const r = served.response;
      const reason: RouteReason = served.index === 0 ? c.reason : c.stale ? 'stale' : c.region === plan.nearest ? 'nearest' : 'failover';
      const freshness = headerNumber(r.headers['x-freshness-ms']);
      const contentType = typeof r.headers['content-type'] === 'string' ? r.headers['content-type'] : 'application/json; charset=utf-8';
      if (r.status === 200) {
        this.monitors.get(c.region)?.served.add();
        this.cache?.store(key, { region: c.region, freshnessMs: freshness ?? null, storedAt: Date.now(), contentType, body: r.body.toString('utf8') });
        if (c.region !== plan.nearest) {
          const cause = served.index === 0 ? (plan.skipCause ?? 'unhealthy') : 'error';
          this.metrics.failovers.inc({ from: plan.nearest, to: c.region, cause });
          this.failovers.record(plan.nearest, c.region, cause);
        }
      }
      const headers: Record<string, string> = { 'x-served-by-region': c.region, 'x-route-reason': reason };
      if (freshness !== undefined) headers['x-freshness-ms'] = String(freshness);
      if (reason === 'stale') headers['x-stale'] = 'true';
      this.finish(t0, r.ms, r.status, c.region, reason);
      return { status: r.status, contentType, body: r.body, headers, reason, region: c.region };
    }

    const cached = await this.cache?.lookup(key);
    if (cached !== undefined) {
      const ageMs = Math.max(0, Date.now() - cached.storedAt);
      const headers: Record<string, string> = { 'x-served-by-region': cached.region, 'x-route-reason': 'cache', 'x-stale': 'true', age: String(Math.floor(ageMs / 1000)), 'x-cache-age-ms': String(ageMs) };
      if (cached.freshnessMs !== null) headers['x-freshness-ms'] = String(cached.freshnessMs + ageMs);
      this.warnThrottled('cache', { err: failure, nearest: plan.nearest, ageMs }, 'no region answered; served the cached answer');
      this.finish(t0, 0, 200, cached.region, 'cache');
      return { status: 200, contentType: cached.contentType, body: Buffer.from(cached.body, 'utf8'), headers, reason: 'cache', region: cached.region };
    }

    const tried = plan.candidates.map((c) => c.region);
    const err = new GeoError('SEARCH_UNAVAILABLE', tried.length === 0 ? `No region can serve searches now (${ranking.join(', ')}: unhealthy, ejected or drained) and no earlier answer to this query is cached.` : `No region answered within ${this.settings.deadlineMs} ms (tried: ${tried.join(', ')}) and no earlier answer to this query is cached.`, {
      cause: failure,
      details: { nearest: plan.nearest, tried, cause: isGeoError(failure) ? failure.code : undefined },
    });
    this.warnThrottled('unavailable', { err: failure, nearest: plan.nearest, tried }, 'search failed in every region');
    this.finish(t0, 0, 503, undefined, undefined);
    return { status: 503, contentType: 'application/json; charset=utf-8', body: Buffer.from(JSON.stringify({ error: { code: err.code, message: err.message, details: err.details } })), headers: { 'retry-after': String(RETRY_AFTER_SEC) }, reason: undefined, region: undefined };
  }

  async drain(region: string, who: { by: string; reason: string | null }, state: 'drained' | 'active'): Promise<DrainRecord> {
    this.topology.region(region);
    if (this.drains === undefined) throw new GeoError('DRAIN_STORE_UNAVAILABLE', 'The router has not started.');
    const record: DrainRecord = { region, state, reason: who.reason, by: who.by, at: new Date().toISOString() };
    await this.drains.put(record);
    return record;
  }

  async drainHistory(region: string): Promise<DrainRecord[]> {
    this.topology.region(region);
    return this.drains === undefined ? [] : this.drains.history(region);
  }

  status(): RouterStatus {
    const now = Date.now();
    const total = [...this.monitors.values()].reduce((n, m) => n + m.served.total(), 0);
    return {
      region: this.region,
      instance: this.instance,
      startedAt: this.startedAt.toISOString(),
      freshnessBoundMs: this.settings.freshnessBoundMs,
      regions: [...this.monitors.values()].map((m) => m.status(now, total)),
      failovers: this.failovers.recent(),
      budgets: { retry: this.retryBudget.snapshot(), hedge: this.hedgeBudget.snapshot() },
    };
  }

  /** One line per kind per second at most, with how many were left out: an outage must not flood the log at request rate. */
  private warnThrottled(kind: string, fields: Record<string, unknown>, message: string): void {
    const now = Date.now();
    const t = this.throttle.get(kind) ?? { at: 0, suppressed: 0 };
    if (now - t.at < 1_000) {
      t.suppressed++;
      this.throttle.set(kind, t);
      return;
    }
    this.log.warn({ ...fields, suppressed: t.suppressed }, message);
    this.throttle.set(kind, { at: now, suppressed: 0 });
  }

  private finish(t0: number, upstreamMs: number, status: number, region: string | undefined, reason: RouteReason | undefined): void {
    const totalMs = performance.now() - t0;
    const outcome = status < 400 ? 'ok' : status < 500 ? 'client_error' : 'unavailable';
    this.metrics.requests.inc({ region: region ?? 'none', outcome, reason: reason ?? 'none' });
    this.metrics.duration.observe({ reason: reason ?? 'none' }, totalMs / 1000);
    if (upstreamMs > 0) this.metrics.addedLatency.observe(Math.max(0, totalMs - upstreamMs) / 1000);
  }

  /**
   * Tries the candidates in order through the one retry policy (core/retry.ts): it retries what
   * is retriable (connect errors, 5xx, timeouts) with no backoff, since the next try goes to
   * another region. The budget and the deadline end it by throwing a final (non-retriable) error.
   */
  private tryCandidates(candidates: readonly Candidate[], request: Omit<UpstreamRequest, 'timeoutMs'>, t0: number): Promise<{ index: number; response: UpstreamResponse }> {
    const deadlineMs = this.settings.deadlineMs;
    const cursor = { next: 0 };
    let last: unknown;
    const final = (message: string, details: Record<string, unknown>): GeoError => new GeoError(isGeoError(last) ? last.code : 'SEARCH_UNAVAILABLE', message, { retriable: false, cause: last, details });
    return withRetry(
      async (attempt) => {
        const remaining = deadlineMs - (performance.now() - t0);
        if (cursor.next >= candidates.length) throw final('Every eligible region failed.', { tried: cursor.next });
        if (remaining <= 1) throw final(`The ${deadlineMs} ms deadline passed.`, { deadlineMs });
        if (attempt > 1) {
          if (!this.retryBudget.tryAcquire()) {
            this.metrics.retries.inc({ outcome: 'denied' });
            throw final('The retry budget is exhausted.', { budget: this.retryBudget.snapshot() });
          }
          this.metrics.retries.inc({ outcome: 'sent' });
        }
        try {
          return await this.tryWithHedge(candidates, cursor, request, remaining);
        } catch (err) {
          last = err;
          throw err;
        }
      },
      { attempts: candidates.length, baseDelayMs: 0, maxDelayMs: 0, deadlineMs },
    );
  }

  /** One attempt: the next candidate, plus (hedging on, enough samples, budget left) a second one after the first's p95. */
  private tryWithHedge(candidates: readonly Candidate[], cursor: { next: number }, request: Omit<UpstreamRequest, 'timeoutMs'>, remainingMs: number): Promise<{ index: number; response: UpstreamResponse }> {
    const index = cursor.next++;
    const primary = candidates[index] as Candidate;
    const perTry = Math.max(1, Math.min(this.settings.perTryTimeoutMs, remainingMs));
    const h = this.settings.hedging;
    const p95 = this.monitors.get(primary.region)?.latencies.p95();
    const delay = p95 === undefined ? undefined : Math.max(h.minDelayMs, p95);
    if (!h.enabled || cursor.next >= candidates.length || delay === undefined || delay >= perTry) {
      return this.tryRegion(primary.region, { ...request, timeoutMs: perTry }).then((response) => ({ index, response }));
    }
    return new Promise((resolve, reject) => {
      const aborts: AbortController[] = [];
      let settled = false;
      let pending = 0;
      let hedged = false;
      const launch = (i: number, timeoutMs: number, isHedge: boolean): void => {
        const ctrl = new AbortController();
        aborts.push(ctrl);
        pending++;
        const region = (candidates[i] as Candidate).region;
        this.tryRegion(region, { ...request, timeoutMs, signal: ctrl.signal }).then(
          (response) => {
            if (settled) return;
            settled = true;
            clearTimeout(timer);
            for (const a of aborts) if (a !== ctrl) a.abort();
            if (isHedge) this.metrics.hedges.inc({ outcome: 'won' });
            resolve({ index: i, response });
          },
          (err: unknown) => {
            pending--;
            if (settled) return;
            // Before the hedge went out, a failure moves straight on to the next region (a retry);
            // after, the other request may still answer.
            if (!hedged || pending === 0) {
              settled = true;
              clearTimeout(timer);
              reject(err instanceof Error ? err : new GeoError('INTERNAL', `Unexpected failure: ${String(err)}`));
            }
          },
        );
      };
      const timer = setTimeout(() => {
        if (settled || cursor.next >= candidates.length) return;
        if (!this.hedgeBudget.tryAcquire()) {
          this.metrics.hedges.inc({ outcome: 'denied' });
          return;
        }
        this.metrics.hedges.inc({ outcome: 'sent' });
        hedged = true;
        launch(cursor.next++, Math.max(1, perTry - delay), true);
      }, delay);
      launch(index, perTry, false);
    });
  }

  private async tryRegion(region: string, request: UpstreamRequest): Promise<UpstreamResponse> {
    const m = this.monitors.get(region) as RegionMonitor;
    m.inFlight++;
    try {
      const response = await m.upstream.send(request);
      m.outlier.success();
      if (response.status < 400) m.latencies.add(response.ms);
      this.metrics.tries.inc({ region, outcome: response.status < 400 ? 'ok' : 'client_error' });
      return response;
    } catch (err) {
      if (wasAborted(err)) {
        this.metrics.tries.inc({ region, outcome: 'cancelled' });
        throw err;
      }
      this.metrics.tries.inc({ region, outcome: isGeoError(err, 'TIMEOUT') ? 'timeout' : 'error' });
      const ejection = m.outlier.failure(this.mayEject());
      if (ejection !== undefined) {
        this.metrics.ejections.inc({ region });
        this.log.warn({ region, durationMs: ejection.durationMs, count: ejection.count, err }, 'region ejected after consecutive errors');
      }
      throw err;
    } finally {
      m.inFlight--;
    }
  }

  /**
   * Envoy's max_ejection_percent: never eject more than this share of the regions at once
   * (at least one). When every region is slow (an overloaded machine, a shared dependency),
   * ejecting them all would only turn slow answers into none.
   */
  private mayEject(): boolean {
    const now = Date.now();
    let ejected = 0;
    for (const m of this.monitors.values()) if (m.outlier.isEjected(now)) ejected++;
    return ejected + 1 <= Math.max(1, Math.floor((this.monitors.size * this.settings.outlier.maxEjectionPercent) / 100));
  }

  private applyDrain(region: string, record: DrainRecord | undefined, initial: boolean): void {
    const m = this.monitors.get(region);
    if (m === undefined) return;
    m.drain = record ?? null;
    m.traffic.setDrained(record?.state === 'drained', initial);
    this.log.info({ region, state: record?.state ?? 'active', reason: record?.reason, by: record?.by, initial }, record?.state === 'drained' ? 'region drained' : 'region undrained');
  }
}

function headerNumber(v: string | string[] | undefined): number | undefined {
  if (typeof v !== 'string' || v === '') return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : undefined;
}
