/**
 * One rate phase on a running stack: the writer offers `rate` documents per second for
 * warm-up + measured seconds; the observer looks for the sampled ones in every region; the
 * indexers' status counts are read every second (indexing throughput); the stage traces record
 * along. Afterwards the observer keeps looking until every sampled document was found or the
 * drain timeout passed. Returns the raw timestamps; analysis.ts turns them into figures.
 */
import { randomUUID } from 'node:crypto';
import { sleep } from '../../core/retry.ts';
import type { IndexerStatus } from '../../services/indexer/indexer.ts';
import { wallNow } from '../support/kafka-bench.ts';
import { cpuSnapshot, cpuUsage } from '../support/process-cpu.ts';
import type { CpuSnapshot, CpuUsage } from '../support/process-cpu.ts';
import type { RunDeployment } from './deployment.ts';
import type { IndexerTraceResult } from './indexer-trace.ts';
import type { ProbeWatch } from './kafka-probe.ts';
import type { LoadPlan, LoadResult } from './load-generator.ts';
import type { RegionSeen, WatchPlan } from './search-observer.ts';
import type { Stack } from './stack.ts';

export interface PhaseOptions {
  rate: number;
  warmupSeconds: number;
  seconds: number;
  sampleEvery: number;
  pollMs: number;
  bodySize: number;
  drainTimeoutSeconds: number;
  maxInFlight: number;
}

export interface StatusSample {
  at: number;
  /** indexed + stale, per region. */
  applied: Record<string, number>;
  /** The indexer's own freshness figure per region, per source (ms), as its status reports it. */
  freshnessMs: Record<string, Record<string, number | null>>;
  paused: Record<string, string[]>;
}

export interface PhaseRaw {
  tag: string;
  rate: number;
  count: number;
  /** Documents before this seq are warm-up. */
  warmupCount: number;
  startAt: number;
  /** Wall ms the measured window starts and ends (by the schedule). */
  windowFrom: number;
  windowTo: number;
  sampleEvery: number;
  load: LoadResult;
  seen: RegionSeen[];
  probe: Record<string, Array<number | null>>;
  traces: Record<string, IndexerTraceResult>;
  statuses: StatusSample[];
  /** Copy transactions committed per second over the measured window, by the replicator's region. */
  transactionsPerSec: Record<string, number>;
  /** CPU over the measured window: the stack's processes, the regions' servers, the machine. */
  cpu: CpuUsage | undefined;
}

export async function runPhase(stack: Stack, run: RunDeployment, o: PhaseOptions, serverPids: Readonly<Record<string, number>>, progress: (line: string) => void): Promise<PhaseRaw> {
  const tag = `r${o.rate}x${randomUUID().slice(0, 6)}`;
  const warmupCount = Math.round(o.rate * o.warmupSeconds);
  const count = warmupCount + Math.round(o.rate * o.seconds);
  const watch: ProbeWatch = { tag, count, sampleEvery: o.sampleEvery };
  await Promise.all([stack.probe?.call('watch', watch), ...[...stack.indexers.values()].map((c) => c.call('watch', watch))]);
  // Document 0 is due a little later, so every process has its plan before then.
  const startAt = wallNow() + 1_000;
  const watchPlan: WatchPlan = {
    regions: stack.regions.map((region) => ({ region, searchUrl: run.deployment.regions[region]?.search.url ?? '' })),
    alias: run.names.alias,
    tag,
    rate: o.rate,
    count,
    startAt,
    sampleEvery: o.sampleEvery,
    pollMs: o.pollMs,
    maxIdsPerSearch: 2_000,
  };
  const loadPlan: LoadPlan = { ingestUrl: stack.ingestUrl, tag, rate: o.rate, count, startAt, bodySize: o.bodySize, maxInFlight: o.maxInFlight };
  await Promise.all([stack.observer.call('start', watchPlan), stack.load.call('start', loadPlan)]);

  const statuses: StatusSample[] = [];
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const tick = wallNow();
      try {
        const all = await Promise.all([...stack.indexers].map(async ([region, c]) => [region, await c.call<IndexerStatus>('status', undefined, 5_000)] as const));
        statuses.push({
          at: wallNow(),
          applied: Object.fromEntries(all.map(([r, s]) => [r, s.counts.indexed + s.counts.stale])),
          freshnessMs: Object.fromEntries(all.map(([r, s]) => [r, Object.fromEntries(Object.entries(s.freshness).map(([src, f]) => [src, f.freshnessMs]))])),
          paused: Object.fromEntries(all.map(([r, s]) => [r, s.paused])),
        });
      } catch {
        // a slow status answer only costs one sample
      }
      await sleep(Math.max(0, tick + 1_000 - wallNow()));
    }
  })();

  const endAt = startAt + ((o.warmupSeconds + o.seconds) * 1000);
  const windowFrom = startAt + o.warmupSeconds * 1000;
  const pids = { ...stack.pids, ...serverPids };
  let cpuFrom: CpuSnapshot | undefined;
  let cpu: CpuUsage | undefined;
  let lastReport = 0;
  let txFrom: { at: number; counts: number[] } | undefined;
  const replicators = [...stack.replicators];
  const txCounts = (): Promise<number[]> => Promise.all(replicators.map(([, c]) => c.call<number>('transactions')));
  while (wallNow() < endAt) {
    if (!cpuFrom && wallNow() >= windowFrom) {
      cpuFrom = cpuSnapshot(pids);
      txFrom = { at: wallNow(), counts: await txCounts() };
    }
    await sleep(Math.min(1_000, Math.max(0, endAt - wallNow())));
    const s = statuses[statuses.length - 1];
    if (s && wallNow() - lastReport >= 10_000) {
      lastReport = wallNow();
      const elapsed = Math.max(0, (wallNow() - startAt) / 1000);
      progress(`${o.rate}/s: ${elapsed.toFixed(0)} s of ${o.warmupSeconds + o.seconds}, applied ${Object.entries(s.applied).map(([r, n]) => `${r} ${n}`).join(', ')}`);
    }
  }
  if (cpuFrom) cpu = cpuUsage(cpuFrom, cpuSnapshot(pids));
  const transactionsPerSec: Record<string, number> = {};
  if (txFrom) {
    const from = txFrom;
    const to = await txCounts();
    const seconds = (wallNow() - from.at) / 1000;
    replicators.forEach(([region], i) => (transactionsPerSec[region] = Math.round(((to[i] ?? 0) - (from.counts[i] ?? 0)) / seconds)));
  }
  const load = await stack.load.call<LoadResult>('finish', { timeoutMs: 30_000 }, 120_000);
  // Only documents whose write got a 202 are waited for (and measured).
  const expected: number[] = [];
  for (let seq = 0; seq < count; seq += o.sampleEvery) if (load.ackAt[seq] !== null && load.ackAt[seq] !== undefined) expected.push(seq / o.sampleEvery);
  const seen = await stack.observer.call<RegionSeen[]>('finish', { timeoutMs: o.drainTimeoutSeconds * 1000, expected }, o.drainTimeoutSeconds * 1000 + 60_000);
  sampling = false;
  await sampler;
  const probe = (await stack.probe?.call<Record<string, Array<number | null>>>('collect')) ?? {};
  const traces = Object.fromEntries(await Promise.all([...stack.indexers].map(async ([region, c]) => [region, await c.call<IndexerTraceResult>('collect')] as const)));
  return { tag, rate: o.rate, count, warmupCount, startAt, windowFrom, windowTo: endAt, sampleEvery: o.sampleEvery, load, seen, probe, traces, statuses, transactionsPerSec, cpu };
}
