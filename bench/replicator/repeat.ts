/**
 * One repeat of one benchmark setup (mode × record size), all against the same two regions:
 *
 * 1. backlog: N records produced to a fresh 6-partition topic in the source region;
 * 2. ceiling: a plain consumer reads that backlog from the source while a plain producer
 *    writes the same N records to a fresh topic in the target, concurrently (the producer
 *    starts when the consumer's first batch arrives); ceiling = min(producer rate, consumer rate);
 * 3. replicator: a Replicator (in this process, unique instance and include prefix) copies the
 *    backlog; the target's read_committed end offsets are polled to time it, and a
 *    read_committed consumer then counts the distinct copies (that count is what is reported);
 * 4. latency: with the replicator caught up, records stamped with their produce time are
 *    produced at half the measured rate; a read_committed consumer on the target computes
 *    now - produce time for each (both in a child process, see latency.ts).
 */
import { loadavg } from 'node:os';
import type { Deployment } from '../../config/schema.ts';
import type { Admin, KafkaClient } from '../../core/kafka.ts';
import type { Logger } from '../../core/logger.ts';
import { sleep } from '../../core/retry.ts';
import type { CopyMode } from '../../replicator/flow-copier.ts';
import { flowNames } from '../../replicator/names.ts';
import { formatProvenance, H_ORIGIN } from '../../replicator/provenance.ts';
import { Replicator } from '../../replicator/replicator.ts';
import { countRecords, endOffsetSum, flowLikeConsumer, produceAll } from '../support/kafka-bench.ts';
import type { CountResult, ProduceResult } from '../support/kafka-bench.ts';
import { RecordFactory } from '../support/records.ts';
import { runReplication } from './deployment.ts';
import { CopyTrace, installOverrides } from './instrument.ts';
import type { CopyTraceSummary } from './instrument.ts';
import { measureLatencyInChild } from './latency.ts';
import type { LatencyResult } from './latency.ts';

export interface Setup {
  mode: CopyMode;
  /** Bytes per record value. */
  size: number;
  /** With --ab: "shipped" runs the replicator as it is, "tuned" with the overrides. */
  variant?: 'shipped' | 'tuned';
}

export interface RepeatOptions {
  source: string;
  target: string;
  records: number;
  partitions: number;
  /** replication.maxBatchRecords of the replicator (and js.consumer.max.batch.size of the plain consumer). */
  maxBatchRecords: number;
  /** replication.minCopyIntervalMs of the replicator. */
  minCopyIntervalMs: number;
  latencyWarmupSeconds: number;
  /** Fixed records/s of the latency phase; undefined: half the measured rate. */
  latencyRate?: number | undefined;
  latencySeconds: number;
  /** Give up when the copy makes no progress for this long. */
  stallTimeoutSeconds: number;
  pollMs: number;
  /** The ceiling's producer adds the provenance headers the replicator adds to each copy (off: the same records as the source). */
  ceilingHeaders: boolean;
  /** Time the replicator's copies and producer calls (instrument.ts). */
  trace: boolean;
  /** Settings applied to the replicator's flow consumer and copier producers (instrument.ts). */
  overrides: { consumer: Record<string, string | number | boolean>; producer: Record<string, string | number | boolean> };
}

export interface BenchClients {
  kafka(region: string): KafkaClient;
  admin(region: string): Admin;
}

export interface RepeatResult {
  repeat: number;
  startedAt: string;
  /** 1-minute load average when the repeat started (the machine is shared: other runs' load shows here). */
  loadAverage1m: number;
  prefix: string;
  instance: string;
  backlog: { records: number; seconds: number; recordsPerSec: number };
  ceiling: {
    recordsPerSec: number;
    limitedBy: 'producer' | 'consumer';
    producer: { recordsPerSec: number; seconds: number; verifiedRecords: number };
    consumer: { recordsPerSec: number; distinct: number; duplicates: number };
  };
  replicator: {
    recordsPerSec: number;
    mbPerSec: number;
    /** Replicator start until the first copies were visible (startup: connect, topic sync, group join, transactional init). */
    firstVisibleSeconds: number;
    /** Replicator start until all copies were visible. */
    allVisibleSeconds: number;
    /** The window the rate is computed over (first visible → all visible). */
    windowSeconds: number;
    committedEndOffsets: number;
    verified: { distinct: number; duplicates: number; foreign: number; records: number };
  };
  ratio: number;
  latency: LatencyResult;
  /**
   * With --trace: the replicator's copies during the backlog copy and during the latency phase,
   * and the copy window (first → all copies visible) on the monotonic clock in µs, which is the
   * clock of `node --cpu-prof` profiles (see bench/support/cpu-profile.ts).
   */
  trace?: { copy: CopyTraceSummary; latency: CopyTraceSummary; copyWindowMonotonicUs: [number, number] };
}

export interface RepeatContext {
  deployment: Readonly<Deployment>;
  clients: BenchClients;
  setup: Setup;
  options: RepeatOptions;
  repeat: number;
  log: Logger;
  progress(line: string): void;
}

export async function runRepeat(ctx: RepeatContext): Promise<RepeatResult> {
  const { clients, setup, options: o } = ctx;
  const startedAt = new Date().toISOString();
  const loadAverage1m = Math.round((loadavg()[0] ?? 0) * 100) / 100;
  const rep = runReplication(ctx.deployment, { mode: setup.mode, maxBatchRecords: o.maxBatchRecords, minCopyIntervalMs: o.minCopyIntervalMs });
  const sourceTopic = `${rep.prefix}.docs`;
  const copyTopic = `${o.source}.${sourceTopic}`;
  const ceilingTopic = `${rep.prefix}-ceiling`;
  const sourceAdmin = clients.admin(o.source);
  const targetAdmin = clients.admin(o.target);
  const groups = { ceiling: `${rep.instance}-ceiling`, verify: `${rep.instance}-verify`, latency: `${rep.instance}-latency` };
  let replicator: Replicator | undefined;
  let uninstallOverrides: (() => void) | undefined;
  // Trace wrappers still installed when a phase fails are removed in `finally`, latest first.
  const untrace: Array<() => void> = [];
  try {
    await sourceAdmin.createTopics({ topics: [{ topic: sourceTopic, numPartitions: o.partitions }] });
    await targetAdmin.createTopics({ topics: [{ topic: ceilingTopic, numPartitions: o.partitions }] });

    // 1. The backlog.
    const records = new RecordFactory(setup.size);
    const backlog = await produceAll(bootstrap(ctx.deployment, o.source), sourceTopic, { count: o.records, partitions: o.partitions, factory: records });
    const inSource = await endOffsetSum(sourceAdmin, sourceTopic, true);
    if (inSource !== o.records) throw new Error(`backlog: ${inSource} records in ${sourceTopic}, expected ${o.records}`);
    ctx.progress(`backlog ${o.records} records in ${backlog.seconds.toFixed(1)} s`);

    // 2. The ceiling: plain consumer from the source and plain producer into the target, concurrently.
    let producing: Promise<ProduceResult> | undefined;
    const consumed = await countRecords(clients.kafka(o.source), sourceTopic, {
      groupId: groups.ceiling,
      expected: o.records,
      tag: records.tag,
      settings: flowLikeConsumer(o.maxBatchRecords),
      concurrency: 16,
      onFirstBatch: () => {
        const headers = o.ceilingHeaders ? (seq: number, partition: number) => ({ [H_ORIGIN]: formatProvenance([o.source, o.target], sourceTopic, partition, Math.floor(seq / o.partitions)) }) : undefined;
        producing = produceAll(bootstrap(ctx.deployment, o.target), ceilingTopic, { count: o.records, partitions: o.partitions, factory: records, ...(headers ? { headers } : {}) });
        producing.catch(() => undefined);
      },
    });
    if (!producing) throw new Error('ceiling: the plain consumer received nothing');
    const produced = await producing;
    if (consumed.distinct !== o.records) throw new Error(`ceiling: the plain consumer read ${consumed.distinct} of ${o.records} records`);
    const ceilingWritten = await endOffsetSum(targetAdmin, ceilingTopic, true);
    if (ceilingWritten !== o.records) throw new Error(`ceiling: ${ceilingWritten} records in ${ceilingTopic}, expected ${o.records}`);
    const ceilingRate = Math.min(produced.recordsPerSec, consumed.recordsPerSec);
    ctx.progress(`ceiling ${Math.round(ceilingRate)} rec/s (plain producer ${Math.round(produced.recordsPerSec)}, plain consumer ${Math.round(consumed.recordsPerSec)})`);

    // 3. The replicator copies the backlog.
    const shipped = setup.variant === 'shipped';
    const uninstall = [installOverrides(shipped ? { consumer: {}, producer: {} } : o.overrides)];
    uninstallOverrides = () => uninstall.forEach((u) => u());
    replicator = new Replicator({ deployment: rep.deployment, region: o.target, sources: [o.source], log: ctx.log });
    const copyTrace = new CopyTrace();
    if (o.trace) untrace.push(copyTrace.install());
    const copy = await timeCopy(ctx, replicator, copyTopic, records.tag, groups.verify);
    untrace.pop()?.();
    if (o.trace) ctx.progress(`trace (backlog copy): ${traceLine(copyTrace.summary())}`);
    const mbPerSec = (copy.recordsPerSec * setup.size) / 1e6;
    ctx.progress(`replicator ${Math.round(copy.recordsPerSec)} rec/s, ${mbPerSec.toFixed(1)} MB/s, ratio ${(copy.recordsPerSec / ceilingRate).toFixed(2)} (verified ${copy.verified.distinct} distinct, ${copy.verified.duplicates} duplicates)`);

    // 4. Latency at half the measured rate.
    const latencyTrace = new CopyTrace();
    if (o.trace) untrace.push(latencyTrace.install());
    const latency = await measureLatencyInChild({
      sourceBootstrap: [...bootstrap(ctx.deployment, o.source)],
      targetBootstrap: [...bootstrap(ctx.deployment, o.target)],
      sourceTopic,
      copyTopic,
      groupId: groups.latency,
      ratePerSec: o.latencyRate ?? Math.max(1, Math.round(copy.recordsPerSec / 2)),
      partitions: o.partitions,
      size: setup.size,
      warmupSeconds: o.latencyWarmupSeconds,
      seconds: o.latencySeconds,
    });
    untrace.pop()?.();
    if (o.trace) ctx.progress(`trace (latency phase): ${traceLine(latencyTrace.summary())}`);
    ctx.progress(`latency at ${latency.targetRatePerSec} rec/s: p50 ${latency.p50Ms.toFixed(0)} ms, p99 ${latency.p99Ms.toFixed(0)} ms, max ${latency.maxMs.toFixed(0)} ms (${latency.measured} measured, ${latency.missing} missing)`);

    return {
      repeat: ctx.repeat,
      startedAt,
      loadAverage1m,
      prefix: rep.prefix,
      instance: rep.instance,
      backlog: { records: backlog.records, seconds: backlog.seconds, recordsPerSec: backlog.recordsPerSec },
      ceiling: {
        recordsPerSec: ceilingRate,
        limitedBy: produced.recordsPerSec <= consumed.recordsPerSec ? 'producer' : 'consumer',
        producer: { recordsPerSec: produced.recordsPerSec, seconds: produced.seconds, verifiedRecords: ceilingWritten },
        consumer: { recordsPerSec: consumed.recordsPerSec, distinct: consumed.distinct, duplicates: consumed.duplicates },
      },
      replicator: { recordsPerSec: copy.recordsPerSec, firstVisibleSeconds: copy.firstVisibleSeconds, allVisibleSeconds: copy.allVisibleSeconds, windowSeconds: copy.windowSeconds, committedEndOffsets: copy.committedEndOffsets, mbPerSec, verified: { distinct: copy.verified.distinct, duplicates: copy.verified.duplicates, foreign: copy.verified.foreign, records: copy.verified.records } },
      ratio: copy.recordsPerSec / ceilingRate,
      latency,
      ...(o.trace ? { trace: { copy: copyTrace.summary(), latency: latencyTrace.summary(), copyWindowMonotonicUs: copy.windowMonotonicUs } } : {}),
    };
  } finally {
    for (let u = untrace.pop(); u; u = untrace.pop()) u();
    await replicator?.stop().catch((err: unknown) => ctx.log.warn({ err: (err as Error).message }, 'stopping the replicator failed'));
    uninstallOverrides?.();
    const flow = flowNames(rep.instance, o.source, o.target);
    await sourceAdmin.deleteTopics({ topics: [sourceTopic], timeout: 30_000 }).catch(() => undefined);
    await targetAdmin.deleteTopics({ topics: [copyTopic, ceilingTopic, flow.offsetSyncTopic, rep.heartbeats], timeout: 30_000 }).catch(() => undefined);
    await sourceAdmin.deleteGroups([flow.sourceGroup, groups.ceiling]).catch(() => undefined);
    // Verification groups are numbered per attempt (see timeCopy); the first three cover every run seen.
    await targetAdmin.deleteGroups([flow.checkpointGroup, groups.latency, ...[1, 2, 3].map((n) => `${groups.verify}-${n}`)]).catch(() => undefined);
  }
}

interface CopyTiming {
  recordsPerSec: number;
  windowMonotonicUs: [number, number];
  firstVisibleSeconds: number;
  allVisibleSeconds: number;
  windowSeconds: number;
  committedEndOffsets: number;
  verified: CountResult;
}

/**
 * Starts the replicator and polls the copy's read_committed end offsets every pollMs. Once they
 * cover the backlog and stop moving, a read_committed consumer counts the distinct copies;
 * if some are missing, polling goes on. With exactly-once every transaction also leaves a
 * commit marker in the partition, so end offsets only time the copy; the count verifies it.
 * Rate = (records − end offsets at the first sample with any copy) / (time of the sample that
 * first showed the final end offsets − time of that first sample).
 */
async function timeCopy(ctx: RepeatContext, replicator: Replicator, copyTopic: string, tag: number, verifyGroup: string): Promise<CopyTiming> {
  const { options: o, clients } = ctx;
  const admin = clients.admin(o.target);
  const samples: Array<{ at: number; sum: number }> = [];
  const stableMs = 1_500;
  const started = performance.now();
  replicator.start();
  let exists = false;
  let last = -1;
  let lastChangeAt = started;
  let mustExceed = o.records - 1;
  let attempt = 0;
  for (;;) {
    const t0 = performance.now();
    if (!exists) exists = (await admin.listTopics({ timeout: 10_000 })).includes(copyTopic);
    if (exists) {
      const sum = await endOffsetSum(admin, copyTopic, true);
      const at = (t0 + performance.now()) / 2;
      samples.push({ at, sum });
      if (sum !== last) {
        last = sum;
        lastChangeAt = at;
      }
    }
    const now = performance.now();
    if (last > mustExceed && now - lastChangeAt >= stableMs) {
      attempt++;
      const verified = await countRecords(clients.kafka(o.target), copyTopic, { groupId: `${verifyGroup}-${attempt}`, expected: o.records, tag, settings: { ...flowLikeConsumer(o.maxBatchRecords) }, concurrency: 16, idleTimeoutMs: 10_000 });
      if (verified.distinct >= o.records) {
        const first = samples.find((s) => s.sum > 0);
        const done = samples.find((s) => s.sum >= last);
        if (!first || !done) throw new Error('copy: no end-offset samples');
        const windowMs = done.at - first.at;
        const recordsPerSec = windowMs > 0 ? (o.records - first.sum) / (windowMs / 1000) : o.records / ((done.at - started) / 1000);
        // performance.now() → the monotonic clock (process.hrtime), in µs.
        const toMono = (at: number): number => Math.round(Number(process.hrtime.bigint() / 1000n) - (performance.now() - at) * 1000);
        return { recordsPerSec, windowMonotonicUs: [toMono(first.at), toMono(done.at)], firstVisibleSeconds: (first.at - started) / 1000, allVisibleSeconds: (done.at - started) / 1000, windowSeconds: windowMs / 1000, committedEndOffsets: last, verified };
      }
      ctx.log.warn({ distinct: verified.distinct, expected: o.records }, 'copy not complete yet although end offsets were stable; waiting');
      mustExceed = last;
    }
    if (now - lastChangeAt > o.stallTimeoutSeconds * 1000) throw new Error(`copy: no progress for ${o.stallTimeoutSeconds} s (read_committed end offsets ${last}, ${o.records} records expected)`);
    await sleep(Math.max(0, o.pollMs - (performance.now() - t0)));
  }
}

function bootstrap(d: Readonly<Deployment>, region: string): readonly string[] {
  const r = d.regions[region];
  if (!r) throw new Error(`unknown region ${region}`);
  return r.kafka.bootstrap;
}

function traceLine(t: CopyTraceSummary): string {
  const ms = (x: { p50Ms: number; p99Ms: number; maxMs: number }): string => `${x.p50Ms}/${x.p99Ms}/${x.maxMs}`;
  return `${t.copies} copies of ${t.recordsPerCopy.p50} records (p50; mean ${t.recordsPerCopy.mean}); ms p50/p99/max: copy ${ms(t.copy)}, gap ${ms(t.gapBetweenCopies)}, queue ${ms(t.queueCopies)}, delivered ${ms(t.sendCopies)}, sendOffsets ${ms(t.sendOffsets)}, commit ${ms(t.commit)}; a copy running ${(t.busyShare * 100).toFixed(0)}% of the time from first to last copy`;
}
