/**
 * Figures from what clients saw: search availability and the longest stretch of client-visible
 * errors, measured freshness, and per fault how long clients saw errors, how soon searches for
 * the faulty region's clients were served elsewhere, and how soon writes flowed everywhere again.
 */
import type { FaultEvent } from './fault-schedule.ts';
import type { ProbeResult } from './freshness-probe.ts';
import type { SearchRecord } from './search-load.ts';

export interface ServingSummary {
  searches: number;
  ok: number;
  /** ok / searches; 1 when there were none. */
  availability: number;
  /** From the start of the first to the end of the last of the longest run of consecutive failed searches. */
  longestErrorStretchMs: number;
  p99LatencyMs: number;
  /** The highest X-Freshness-Ms an answer carried: staleness the serving region admitted to. */
  maxReportedFreshnessMs: number | undefined;
  /** Failed searches by client region and error ("eu-west: HTTP 503"), most frequent first: what a failure needs to be understood. */
  failures: Record<string, number>;
  /** When (ms after the load started) the first and the last failed search started; undefined when none failed. */
  failedBetweenMs: [number, number] | undefined;
}

export interface FreshnessSummary {
  probes: number;
  /** Probes some region never showed before the checks. */
  unseen: number;
  maxLagMs: number | undefined;
  p50LagMs: number | undefined;
}

export interface FaultFigures {
  fault: number;
  action: string;
  target: string;
  servers: string[];
  startedAtMs: number;
  healIssuedAtMs: number | undefined;
  healedAtMs: number | undefined;
  /** Failed searches that started between the fault and 10 s after its heal. */
  searchErrors: number;
  errorStretchMs: number;
  /** Fault start → first search of one of the region's clients answered by another region (region faults only). */
  failoverMs: number | undefined;
  /** Heal issued → a write acknowledged after it is visible in every region. */
  recoveryMs: number | undefined;
  error?: string;
  healError?: string;
}

export function summarizeSearches(records: readonly SearchRecord[]): ServingSummary {
  const ok = records.filter((r) => r.ok).length;
  const latencies = records.map((r) => r.endedAt - r.startedAt).sort((a, b) => a - b);
  const fresh = records.map((r) => r.freshnessMs).filter((f): f is number => f !== undefined);
  return {
    searches: records.length,
    ok,
    availability: records.length === 0 ? 1 : ok / records.length,
    longestErrorStretchMs: longestStretch(records),
    p99LatencyMs: Math.round(latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * 0.99))] ?? 0),
    maxReportedFreshnessMs: fresh.length === 0 ? undefined : Math.max(...fresh),
    failures: failureCounts(records),
    failedBetweenMs: failedBetween(records),
  };
}

function failedBetween(records: readonly SearchRecord[]): [number, number] | undefined {
  const at = records.filter((r) => !r.ok).map((r) => r.startedAt);
  return at.length === 0 ? undefined : [Math.round(Math.min(...at)), Math.round(Math.max(...at))];
}

function failureCounts(records: readonly SearchRecord[]): Record<string, number> {
  const counts = new Map<string, number>();
  for (const r of records) {
    if (r.ok) continue;
    const key = `${r.clientRegion}: ${r.error ?? 'unknown'}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return Object.fromEntries([...counts].sort((a, b) => b[1] - a[1]));
}

export function summarizeFreshness(probes: readonly ProbeResult[], regions: readonly string[]): FreshnessSummary {
  const lags: number[] = [];
  let unseen = 0;
  for (const p of probes) {
    const others = regions.filter((r) => r !== p.from);
    const seen = others.map((r) => p.lagMs[r]).filter((l): l is number => l !== undefined);
    if (seen.length < others.length) unseen++;
    lags.push(...seen);
  }
  lags.sort((a, b) => a - b);
  return { probes: probes.length, unseen, maxLagMs: lags.length ? Math.round(lags[lags.length - 1] as number) : undefined, p50LagMs: lags.length ? Math.round(lags[Math.floor(lags.length / 2)] as number) : undefined };
}

export function faultFigures(events: readonly FaultEvent[], searches: readonly SearchRecord[], probes: readonly ProbeResult[], regions: readonly string[]): FaultFigures[] {
  return events.map((e) => {
    const until = (e.healedAt ?? e.startedAt) + 10_000;
    const window = searches.filter((s) => s.startedAt >= e.startedAt && s.startedAt <= until);
    const region = servingRegionOf(e);
    const elsewhere = region === undefined ? undefined : searches.filter((s) => s.startedAt >= e.startedAt && s.clientRegion === region && s.ok && s.servedBy !== region).sort((a, b) => a.endedAt - b.endedAt)[0];
    let recoveryMs: number | undefined;
    if (e.healIssuedAt !== undefined) {
      const heal = e.healIssuedAt;
      const after = probes.filter((p) => p.ackedAt >= heal && regions.every((r) => r === p.from || p.lagMs[r] !== undefined)).sort((a, b) => a.ackedAt - b.ackedAt)[0];
      if (after) recoveryMs = Math.round(after.ackedAt + Math.max(...Object.values(after.lagMs).map((l) => l ?? 0)) - heal);
    }
    return {
      fault: e.fault,
      action: e.action,
      target: e.target,
      servers: e.servers,
      startedAtMs: Math.round(e.startedAt),
      healIssuedAtMs: e.healIssuedAt === undefined ? undefined : Math.round(e.healIssuedAt),
      healedAtMs: e.healedAt === undefined ? undefined : Math.round(e.healedAt),
      searchErrors: window.filter((s) => !s.ok).length,
      errorStretchMs: longestStretch(window),
      failoverMs: elsewhere ? Math.round(elsewhere.endedAt - e.startedAt) : undefined,
      recoveryMs,
      ...(e.error ? { error: e.error } : {}),
      ...(e.healError ? { healError: e.healError } : {}),
    };
  });
}

/** The region whose searches a fault takes away: its OpenSearch, search API, all its brokers, or a drain. */
function servingRegionOf(e: FaultEvent): string | undefined {
  if (e.action === 'drain') return e.target;
  const m = /^([a-z][a-z0-9-]*)\/(opensearch|search|kafka)$/.exec(e.target);
  return m?.[1];
}

function longestStretch(records: readonly SearchRecord[]): number {
  const sorted = [...records].sort((a, b) => a.startedAt - b.startedAt);
  let best = 0;
  let start: number | undefined;
  let end = 0;
  for (const r of sorted) {
    if (!r.ok) {
      start ??= r.startedAt;
      end = Math.max(end, r.endedAt);
      best = Math.max(best, end - start);
    } else {
      start = undefined;
      end = 0;
    }
  }
  return Math.round(best);
}
