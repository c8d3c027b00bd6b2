/**
 * The region's health as the search endpoint reports it: OpenSearch, Kafka, the indexer, and
 * the index's freshness per source region. Probed in the background every `intervalMs`, one
 * round at a time, each probe with its own timeout, so `GET /health` answers from memory and
 * can be probed every 200 ms by every router without loading anything behind it.
 *
 * Freshness comes from the indexer's own report and is aged by the time since that report: when
 * the indexer stops answering, the figure keeps growing instead of freezing at its last value,
 * which is what a router deciding on freshness must see.
 */
import { errors } from '@opensearch-project/opensearch';
import type { Client } from '@opensearch-project/opensearch';
import { CachedReachability } from '../../core/kafka-reachability.ts';
import type { Logger } from '../../core/logger.ts';
import { sleep } from '../../core/retry.ts';

/** What the search endpoint needs from the indexer's status (services/indexer/status-api.ts). */
export interface IndexerReport {
  state: string;
  paused: string[];
  bufferedRecords: number;
  freshness: Record<string, { freshnessMs: number | null }>;
}

export type HealthStatus = 'ok' | 'degraded' | 'down';

export interface RegionHealth {
  region: string;
  /** ok: everything answers and freshness is known; degraded: searches are served but something behind them is wrong; down: searches cannot be served. */
  status: HealthStatus;
  checkedAt: string;
  search: { ok: boolean; status: 'green' | 'yellow' | 'red' | 'unreachable'; ms: number; error?: string };
  kafka: { ok: boolean; ms: number; error?: string };
  indexer: { ok: boolean; state: string; paused: string[]; bufferedRecords: number; reportAgeMs: number | null; error?: string };
  /** Per source region, how far behind it the index is (ms); null while unknown. */
  freshness: Record<string, number | null>;
  /** The largest of `freshness`; null when any source is unknown. */
  maxFreshnessMs: number | null;
}

export interface RegionHealthOptions {
  region: string;
  sources: readonly string[];
  search: Client;
  kafkaBootstrap: readonly string[];
  indexerReport: () => Promise<IndexerReport>;
  log: Logger;
  /** Default 250 ms. */
  intervalMs?: number;
  /** Per probe. Default 750 ms. */
  timeoutMs?: number;
  /** Called after each round, e.g. to update gauges. */
  onRound?: (h: RegionHealth) => void;
}

interface Probed<T> {
  at: number;
  value: T;
}

export class RegionHealthMonitor {
  private readonly intervalMs: number;
  private readonly timeoutMs: number;
  private readonly kafka: CachedReachability;
  private readonly stopper = new AbortController();
  private search: Probed<RegionHealth['search']> | undefined;
  private kafkaState: Probed<RegionHealth['kafka']> | undefined;
  private indexer: Probed<IndexerReport> | undefined;
  private indexerError: string | undefined;
  private searchTimeouts = 0;
  private loop: Promise<void> | undefined;
  private firstRound: Promise<void> | undefined;

  constructor(private readonly o: RegionHealthOptions) {
    this.intervalMs = o.intervalMs ?? 250;
    this.timeoutMs = o.timeoutMs ?? 750;
    this.kafka = new CachedReachability({ bootstrap: o.kafkaBootstrap, timeoutMs: this.timeoutMs, ttlMs: 0 });
  }

  /** Starts probing; resolves after the first round. */
  start(): Promise<void> {
    this.firstRound ??= this.round();
    this.loop ??= this.firstRound.then(async () => {
      const signal = this.stopper.signal;
      while (!signal.aborted) {
        await sleep(this.intervalMs, signal).catch(() => undefined);
        if (!signal.aborted) await this.round();
      }
    });
    return this.firstRound;
  }

  async stop(): Promise<void> {
    this.stopper.abort();
    await this.loop;
  }

  snapshot(now = Date.now()): RegionHealth {
    const search = this.search?.value ?? { ok: false, status: 'unreachable' as const, ms: 0, error: 'not probed yet' };
    const kafka = this.kafkaState?.value ?? { ok: false, ms: 0, error: 'not probed yet' };
    const report = this.indexer;
    const reportAgeMs = report ? Math.max(0, now - report.at) : null;
    // A report older than a few rounds means the indexer stopped answering.
    const reachable = reportAgeMs !== null && reportAgeMs <= Math.max(2_000, this.intervalMs * 4 + this.timeoutMs);
    const indexer: RegionHealth['indexer'] = {
      ok: reachable && report?.value.state === 'running',
      state: reachable ? (report?.value.state ?? 'unknown') : 'unreachable',
      paused: report?.value.paused ?? [],
      bufferedRecords: report?.value.bufferedRecords ?? 0,
      reportAgeMs,
      ...(this.indexerError !== undefined && !reachable ? { error: this.indexerError } : {}),
    };
    const freshness: Record<string, number | null> = {};
    for (const source of this.o.sources) {
      const f = report?.value.freshness[source]?.freshnessMs;
      freshness[source] = f === null || f === undefined || reportAgeMs === null ? null : Math.round(f + reportAgeMs);
    }
    const values = Object.values(freshness);
    const maxFreshnessMs = values.some((v) => v === null) ? null : Math.max(0, ...(values as number[]));
    const status: HealthStatus = !search.ok ? 'down' : kafka.ok && indexer.ok && maxFreshnessMs !== null ? 'ok' : 'degraded';
    return { region: this.o.region, status, checkedAt: new Date(now).toISOString(), search, kafka, indexer, freshness, maxFreshnessMs };
  }

  private async round(): Promise<void> {
    await Promise.all([this.probeSearch(), this.probeKafka(), this.probeIndexer()]);
    this.o.onRound?.(this.snapshot());
  }

  /**
   * A refused connection or a red cluster counts at once (a dead OpenSearch is reported down
   * within one round). A single timeout does not: a node that is busy serving a sudden load
   * (the traffic of a region that just failed over to this one) can be slow to answer one health
   * call, and reporting it down then would push that load on to a third region. Two in a row do.
   */
  private async probeSearch(): Promise<void> {
    const t0 = Date.now();
    try {
      const res = await this.o.search.cluster.health({}, { requestTimeout: this.timeoutMs, maxRetries: 0 });
      const status = (res.body as { status?: string }).status;
      const known = status === 'green' || status === 'yellow' || status === 'red' ? status : 'red';
      this.searchTimeouts = 0;
      this.search = { at: Date.now(), value: { ok: known !== 'red', status: known, ms: Date.now() - t0 } };
    } catch (err) {
      const timedOut = err instanceof errors.TimeoutError;
      this.searchTimeouts = timedOut ? this.searchTimeouts + 1 : 0;
      if (timedOut && this.searchTimeouts < 2 && this.search?.value.ok === true) return;
      this.search = { at: Date.now(), value: { ok: false, status: 'unreachable', ms: Date.now() - t0, error: (err as Error).message } };
    }
  }

  private async probeKafka(): Promise<void> {
    const r = await this.kafka.check();
    this.kafkaState = { at: Date.now(), value: r.reachable ? { ok: true, ms: r.ms } : { ok: false, ms: r.ms, error: r.error } };
  }

  private async probeIndexer(): Promise<void> {
    try {
      const value = await this.o.indexerReport();
      this.indexer = { at: Date.now(), value };
      this.indexerError = undefined;
    } catch (err) {
      this.indexerError = (err as Error).message;
    }
  }
}

/** Reads the indexer's report from its status API (`GET <url>/status`). */
export function indexerReportFrom(url: string, timeoutMs = 750): () => Promise<IndexerReport> {
  return async () => {
    const res = await fetch(`${url}/status`, { signal: AbortSignal.timeout(timeoutMs) });
    if (!res.ok) throw new Error(`indexer status answered ${res.status}`);
    return (await res.json()) as IndexerReport;
  };
}
