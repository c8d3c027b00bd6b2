/**
 * One repeat, on names of its own (deployment.ts):
 * 1. the stack starts (stack.ts): replicator and indexer in every region, the ingest API of the
 *    writing region, the writer, the observer (and the Kafka stage probe), each a process;
 * 2. priming: 20 documents must become searchable in every region (the stack is live);
 * 3. the rate phases (phase.ts), in alternating order from one repeat to the next;
 * 4. the services stop; per region, one at a time: the indexer's capacity on the backlog the
 *    run left (indexer-capacity.ts), then the OpenSearch bulk ceiling (bulk-ceiling.ts);
 * 5. the run's topics, groups and indices are deleted (cleanup.ts), pass or fail.
 */
import { loadavg } from 'node:os';
import { join } from 'node:path';
import type { Deployment } from '../../config/schema.ts';
import type { Admin } from '../../core/kafka.ts';
import { sleep } from '../../core/retry.ts';
import type { IndexerStatus } from '../../services/indexer/indexer.ts';
import { round } from '../support/stats.ts';
import { analysePhase } from './analysis.ts';
import type { PhaseFigures } from './analysis.ts';
import { bulkCeiling } from './bulk-ceiling.ts';
import type { CeilingDocs, CeilingResult } from './bulk-ceiling.ts';
import { cleanupRun } from './cleanup.ts';
import type { CleanupResult } from './cleanup.ts';
import { runDeployment } from './deployment.ts';
import { indexerCapacity } from './indexer-capacity.ts';
import type { CapacityResult } from './indexer-capacity.ts';
import { runPhase } from './phase.ts';
import type { PhaseOptions } from './phase.ts';
import { startStack } from './stack.ts';

export interface RepeatOptions {
  rates: number[];
  writeRegion: string;
  warmupSeconds: number;
  seconds: number;
  sampleEvery: number;
  pollMs: number;
  bodySize: number;
  drainTimeoutSeconds: number;
  maxInFlight: number;
  capacity: boolean;
  ceiling: boolean;
  ceilingMaxDocs: number;
  ceilingMinDocs: number;
  /** The indexer's defaults, used by the ceiling: bulk bytes and lanes. */
  flushBytes: number;
  lanes: number;
  logRoot: string;
  kafkaProbe: boolean;
  replicationMode: Deployment['replication']['mode'];
  minCopyIntervalMs: number | undefined;
}

export interface RepeatResult {
  repeat: number;
  startedAt: string;
  loadAverage1m: number;
  loadAverage1mAtEnd: number;
  prefix: string;
  instance: string;
  logDir: string;
  stackStartSeconds: number;
  /** From the first priming write to all 20 searchable everywhere. */
  primingSeconds: number;
  phases: PhaseFigures[];
  /** indexed + stale per region when the services stopped (the capacity phase's target). */
  appliedAtStop: Record<string, number>;
  capacity: CapacityResult[];
  ceiling: CeilingResult[];
  cleanup: CleanupResult | undefined;
  seconds: number;
  /** Why the repeat stopped early; what it measured until then is kept. */
  error?: string;
}

export async function runRepeat(o: { base: Readonly<Deployment>; admins: ReadonlyMap<string, Admin>; serverPids: Readonly<Record<string, number>>; repeat: number; options: RepeatOptions; progress: (line: string) => void }): Promise<RepeatResult> {
  const opts = o.options;
  const run = runDeployment(o.base, { mode: opts.replicationMode, ...(opts.minCopyIntervalMs === undefined ? {} : { minCopyIntervalMs: opts.minCopyIntervalMs }) });
  const t0 = Date.now();
  const logDir = join(opts.logRoot, run.names.prefix);
  const result: RepeatResult = {
    repeat: o.repeat,
    startedAt: new Date().toISOString(),
    loadAverage1m: round(loadavg()[0] ?? 0, 2),
    loadAverage1mAtEnd: Number.NaN,
    prefix: run.names.prefix,
    instance: run.names.instance,
    logDir,
    stackStartSeconds: Number.NaN,
    primingSeconds: Number.NaN,
    phases: [],
    appliedAtStop: {},
    capacity: [],
    ceiling: [],
    cleanup: undefined,
    seconds: Number.NaN,
  };
  const phase = (rate: number): PhaseOptions => ({ rate, warmupSeconds: opts.warmupSeconds, seconds: opts.seconds, sampleEvery: opts.sampleEvery, pollMs: opts.pollMs, bodySize: opts.bodySize, drainTimeoutSeconds: opts.drainTimeoutSeconds, maxInFlight: opts.maxInFlight });
  try {
    o.progress(`names ${run.names.prefix} / ${run.names.instance}; logs in ${logDir}`);
    const stack = await startStack({ run, writeRegion: opts.writeRegion, admins: o.admins, logDir, kafkaProbe: opts.kafkaProbe });
    result.stackStartSeconds = round(stack.startSeconds, 1);
    o.progress(`stack up in ${result.stackStartSeconds} s (ingest ${stack.ingestUrl})`);
    const ceilingDocs: CeilingDocs[] = [];
    try {
      const priming = await runPhase(stack, run, { ...phase(20), warmupSeconds: 0, seconds: 1, sampleEvery: 1, drainTimeoutSeconds: 180 }, o.serverPids, o.progress);
      const unseen = priming.seen.filter((s) => s.seenAt.some((x) => x === null)).map((s) => s.region);
      if (unseen.length > 0) throw new Error(`priming documents not searchable within 180 s in ${unseen.join(', ')}`);
      result.primingSeconds = round((Math.max(...priming.seen.flatMap((s) => s.seenAt.map((x) => x ?? Number.NaN))) - priming.startAt) / 1000, 2);
      o.progress(`priming: 20 documents searchable everywhere ${result.primingSeconds} s after the first was due`);
      const rates = o.repeat % 2 === 0 ? [...opts.rates].reverse() : opts.rates;
      for (const rate of rates) {
        await sleep(2_000);
        const raw = await runPhase(stack, run, phase(rate), o.serverPids, o.progress);
        const figures = analysePhase(raw, opts.writeRegion);
        result.phases.push(figures);
        ceilingDocs.push({ tag: raw.tag, bodySize: opts.bodySize, versions: raw.load.versions, ackAt: raw.load.ackAt });
        if (figures.cpu) o.progress(`${rate}/s CPU (cores): machine ${figures.cpu.machineCores}, others' ${figures.cpu.otherCores}; ${Object.entries(figures.cpu.processCores).map(([n, c]) => `${n} ${c}`).join(', ')}`);
        o.progress(`${rate}/s: ${figures.regions.map((r) => `${r.region} p50 ${r.fromAck.p50} p99 ${r.fromAck.p99} max ${r.fromAck.max} ms${r.missing > 0 ? ` (${r.missing} missing)` : ''}, ${r.appliedPerSec}/s`).join('; ')}`);
      }
      const statuses = await Promise.all([...stack.indexers].map(async ([region, c]) => [region, await c.call<IndexerStatus>('status')] as const));
      result.appliedAtStop = Object.fromEntries(statuses.map(([r, s]) => [r, s.counts.indexed + s.counts.stale]));
    } finally {
      await stack.close();
    }
    for (const region of stack.regions) {
      if (opts.capacity) {
        const cap = await indexerCapacity({ region, run, expected: result.appliedAtStop[region] ?? 0, logDir, stallSeconds: 30 });
        result.capacity.push(cap);
        o.progress(`capacity ${region}: ${cap.applied} of ${cap.expected} in ${cap.seconds} s = ${cap.docsPerSec}/s`);
      }
      if (opts.ceiling) {
        const url = run.deployment.regions[region]?.search.url ?? '';
        const c = await bulkCeiling({ region, searchUrl: url, alias: `${run.names.prefix}-ceiling`, origin: opts.writeRegion, runs: ceilingDocs, flushBytes: opts.flushBytes, concurrency: opts.lanes, maxDocs: opts.ceilingMaxDocs, minDocs: opts.ceilingMinDocs });
        result.ceiling.push(c);
        o.progress(`ceiling ${region}: ${c.docs} docs${c.filler > 0 ? ` (${c.filler} of them filler)` : ''} in ${c.seconds} s = ${c.docsPerSec}/s (${c.bulks} bulks${c.itemErrors > 0 ? `, ${c.itemErrors} item errors` : ''})`);
      }
    }
  } catch (err) {
    result.error = (err as Error).message;
  } finally {
    result.cleanup = await cleanupRun(run, o.admins).catch((err: unknown) => ({ topics: 0, groups: 0, indices: 0, errors: [(err as Error).message] }));
    result.loadAverage1mAtEnd = round(loadavg()[0] ?? 0, 2);
    result.seconds = round((Date.now() - t0) / 1000, 1);
  }
  return result;
}
