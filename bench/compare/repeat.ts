/**
 * One repeat of one setup (mode × record size), flow us-east → eu-west, all on the same brokers:
 *
 * 1. backlog: N records of our format in a fresh 6-partition source topic;
 * 2. ceiling: ProducerPerformance writes N records of the same size into the target while
 *    ConsumerPerformance reads the backlog from the source, concurrently;
 * 3. each replicator in turn (which goes first alternates by repeat), as its own process:
 *    a. throughput: started with the backlog waiting; copy timed and verified (copy-timer.ts);
 *    b. latency: records at a fixed rate into a topic of its own, latency on the target
 *       (bench/replicator/latency.ts, in a child process);
 *    c. recovery: SIGKILL under the same fixed rate, restart, duplicates and gaps (recovery.ts);
 *    d. SIGTERM; CPU and peak RSS of both processes.
 * Every topic and group of the repeat carries its run id and is deleted at the end.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import type { Deployment } from '../../config/schema.ts';
import type { Admin, KafkaClient } from '../../core/kafka.ts';
import type { Logger } from '../../core/logger.ts';
import { sleep } from '../../core/retry.ts';
import type { CopyMode } from '../../replicator/flow-copier.ts';
import { endOffsetSum, produceAll } from '../support/kafka-bench.ts';
import type { ResourceReading } from '../support/process-resources.ts';
import { RecordFactory } from '../support/records.ts';
import { measureLatencyInChild } from '../replicator/latency.ts';
import type { LatencyResult } from '../replicator/latency.ts';
import { timeCopy } from './copy-timer.ts';
import type { CopyResult } from './copy-timer.ts';
import { consumerPerformance, payloadFile, producerPerformance } from './kafka-tools.ts';
import type { ConsumerPerfResult, ProducerPerfResult } from './kafka-tools.ts';
import { mm2CopyTopic, startMm2 } from './mm2.ts';
import type { CompareOptions } from './options.ts';
import { oursCopyTopic, startOurs } from './ours.ts';
import { summarizeOursProfile } from './profile-summary.ts';
import type { OursProfile } from './profile-summary.ts';
import { measureRecovery } from './recovery.ts';
import type { RecoveryResult } from './recovery.ts';
import type { ReplicatorKind, ReplicatorProcess } from './replicator-process.ts';

export interface Setup {
  mode: CopyMode;
  size: number;
}

export interface Ceiling {
  recordsPerSec: number;
  limitedBy: 'producer' | 'consumer';
  producer: ProducerPerfResult;
  consumer: ConsumerPerfResult;
  verifiedRecords: number;
}

export interface ReplicatorRun {
  kind: ReplicatorKind;
  copy: CopyResult | undefined;
  latency: LatencyResult | undefined;
  /** CPU seconds of the replicator process during the latency phase (steady load at the fixed rate). */
  latencyCpuSeconds: number | undefined;
  recovery: RecoveryResult | undefined;
  /** Spawn → first copy visible, for the process of the live phases (nothing waiting for it). */
  liveStartupSeconds?: number;
  /** Peak RSS over the processes of this run (before and after the SIGKILL). */
  peakRssMiB: number;
  /** The restarted process at its SIGTERM. */
  final: (ResourceReading & { graceful: boolean }) | undefined;
  errors: string[];
  logFiles: string[];
  /** With --profile-ours: CPU profile and librdkafka statistics over the throughput window. */
  profile?: OursProfile;
}

export interface RepeatResult {
  repeat: number;
  runId: string;
  startedAt: string;
  loadAverage1m: number;
  loadAverage1mAtEnd: number;
  backlog: { records: number; seconds: number; recordsPerSec: number };
  ceiling: Ceiling | undefined;
  ceilingError?: string;
  ours: ReplicatorRun | undefined;
  mm2: ReplicatorRun | undefined;
  order: ReplicatorKind[];
  /** Records/s of the latency and recovery phases, the same for both. */
  latencyRate: number;
}

export interface BenchClients {
  kafka(region: string): KafkaClient;
  admin(region: string): Admin;
}

export interface RepeatContext {
  deployment: Readonly<Deployment>;
  clients: BenchClients;
  opts: CompareOptions;
  source: string;
  target: string;
  setup: Setup;
  repeat: number;
  /** Where this run's configuration and log files go. */
  logDir: string;
  /** The fixed rate of the latency and recovery phases, given this repeat's measured throughputs. */
  latencyRate(throughputs: ReadonlyArray<number | undefined>): number;
  log: Logger;
  progress(line: string): void;
}

const POLL_MS = 100;

export async function runRepeat(ctx: RepeatContext): Promise<RepeatResult> {
  const { clients, opts: o, setup, source, target } = ctx;
  const runId = randomUUID().slice(0, 8);
  const prefix = `cmp-${runId}`;
  const dir = join(ctx.logDir, `${setup.mode}-${setup.size}-r${ctx.repeat}-${runId}`);
  mkdirSync(dir, { recursive: true });
  const topics = { backlog: `${prefix}-backlog`, ceiling: `${prefix}-ceiling`, lat: (k: ReplicatorKind) => `${prefix}-lat-${k}`, rec: (k: ReplicatorKind) => `${prefix}-rec-${k}` };
  const startedAt = new Date().toISOString();
  const loadAverage1m = round2(loadavg()[0] ?? 0);
  const sourceAdmin = clients.admin(source);
  const targetAdmin = clients.admin(target);
  const kinds: ReplicatorKind[] = (['ours', 'mm2'] as const).filter((k) => !o.skip.has(k));
  const order = ctx.repeat % 2 === 1 ? kinds : [...kinds].reverse();
  try {
    await sourceAdmin.createTopics({ topics: [topics.backlog, ...kinds.flatMap((k) => [topics.lat(k), topics.rec(k)])].map((topic) => ({ topic, numPartitions: o.partitions })) });
    await targetAdmin.createTopics({ topics: [{ topic: topics.ceiling, numPartitions: o.partitions }] });

    const records = new RecordFactory(setup.size);
    const backlog = await produceAll(bootstrap(ctx.deployment, source), topics.backlog, { count: o.records, partitions: o.partitions, factory: records });
    const inSource = await endOffsetSum(sourceAdmin, topics.backlog, true);
    if (inSource !== o.records) throw new Error(`backlog: ${inSource} records in ${topics.backlog}, expected ${o.records}`);
    ctx.progress(`backlog ${o.records} records in ${backlog.seconds.toFixed(1)} s`);

    let ceiling: Ceiling | undefined;
    let ceilingError: string | undefined;
    if (!o.skip.has('ceiling')) {
      try {
        ceiling = await measureCeiling(ctx, dir, topics.backlog, topics.ceiling, `${prefix}-ceiling`);
        ctx.progress(`ceiling ${Math.round(ceiling.recordsPerSec)} rec/s (ProducerPerformance ${Math.round(ceiling.producer.recordsPerSec)}, ConsumerPerformance ${Math.round(ceiling.consumer.recordsPerSec)})`);
      } catch (err) {
        ceilingError = (err as Error).message;
        ctx.progress(`ceiling FAILED: ${ceilingError}`);
      }
    }

    const under = new Map(order.map((kind) => [kind, new UnderTest(ctx, { kind, dir, runId, prefix, tag: records.tag, topics })]));
    // Throughput of both first: the fixed rate of the live phases may depend on it (--latency-rate auto).
    if (!o.skip.has('throughput')) for (const u of under.values()) await u.throughput();
    const latencyRate = ctx.latencyRate(order.map((k) => under.get(k)?.run.copy?.recordsPerSec));
    if (!o.skip.has('latency') || !o.skip.has('recovery')) {
      ctx.progress(`latency and recovery at ${latencyRate} records/s for both`);
      for (const u of under.values()) await u.liveLoad(latencyRate);
    }
    const runs: Partial<Record<ReplicatorKind, ReplicatorRun>> = Object.fromEntries([...under].map(([k, u]) => [k, u.run]));
    return {
      repeat: ctx.repeat,
      runId,
      startedAt,
      loadAverage1m,
      loadAverage1mAtEnd: round2(loadavg()[0] ?? 0),
      backlog: { records: backlog.records, seconds: backlog.seconds, recordsPerSec: backlog.recordsPerSec },
      ceiling,
      ...(ceilingError ? { ceilingError } : {}),
      ours: runs.ours,
      mm2: runs.mm2,
      order,
      latencyRate,
    };
  } finally {
    await deleteRun(clients, [source, target], runId);
  }
}

async function measureCeiling(ctx: RepeatContext, dir: string, backlogTopic: string, ceilingTopic: string, group: string): Promise<Ceiling> {
  const { opts: o, setup } = ctx;
  const timeoutMs = Math.max(600_000, (o.records / 2_000) * 1000);
  const [producer, consumer] = await Promise.all([
    producerPerformance({ dir, name: 'ceiling-producer', bootstrap: bootstrap(ctx.deployment, ctx.target), topic: ceilingTopic, records: o.records, payloadFile: payloadFile(dir, setup.size), props: o.ceilingProducer, heapMb: 256, timeoutMs }),
    consumerPerformance({ dir, name: 'ceiling-consumer', bootstrap: bootstrap(ctx.deployment, ctx.source), topic: backlogTopic, records: o.records, group, props: { 'isolation.level': 'read_committed' }, heapMb: 256, timeoutMs }),
  ]);
  const verifiedRecords = await endOffsetSum(ctx.clients.admin(ctx.target), ceilingTopic, true);
  if (verifiedRecords !== o.records) throw new Error(`ceiling: ${verifiedRecords} records in ${ceilingTopic}, expected ${o.records}`);
  if (consumer.records < o.records) throw new Error(`ceiling: ConsumerPerformance read ${consumer.records} of ${o.records} records`);
  const recordsPerSec = Math.min(producer.recordsPerSec, consumer.recordsPerSec);
  return { recordsPerSec, limitedBy: producer.recordsPerSec <= consumer.recordsPerSec ? 'producer' : 'consumer', producer, consumer, verifiedRecords };
}

interface RunTopics {
  backlog: string;
  lat: (k: ReplicatorKind) => string;
  rec: (k: ReplicatorKind) => string;
}

/** One replicator under test within a repeat: how to start its process, and what it measured. */
class UnderTest {
  readonly run: ReplicatorRun;
  private starts = 0;

  constructor(
    private readonly ctx: RepeatContext,
    private readonly r: { kind: ReplicatorKind; dir: string; runId: string; prefix: string; tag: number; topics: RunTopics },
  ) {
    this.run = { kind: r.kind, copy: undefined, latency: undefined, latencyCpuSeconds: undefined, recovery: undefined, peakRssMiB: 0, final: undefined, errors: [], logFiles: [] };
  }

  get label(): string {
    return this.r.kind === 'ours' ? 'ours' : 'MM2';
  }

  copyOf(topic: string): string {
    return this.r.kind === 'ours' ? oursCopyTopic(this.ctx.source, topic) : mm2CopyTopic(this.ctx.source, this.r.runId, topic);
  }

  start(profile = false): ReplicatorProcess {
    const { ctx, r } = this;
    const { source, target, setup, opts: o } = ctx;
    const include = `${r.prefix}-(backlog|lat-${r.kind}|rec-${r.kind})`;
    const name = `${r.kind}-${++this.starts}`;
    const proc =
      r.kind === 'ours'
        ? startOurs({
            base: ctx.deployment,
            runId: r.runId,
            target,
            sources: [source],
            include,
            mode: setup.mode,
            dir: r.dir,
            name,
            ...(profile ? { nodeFlags: ['--cpu-prof', `--cpu-prof-dir=${join(r.dir, 'cpu-profile')}`], preload: [join(import.meta.dirname, 'rdkafka-stats.ts')], env: { GEOREPLICA_BENCH_RDKAFKA_STATS: join(r.dir, `${name}.rdkafka-stats.jsonl`) } } : {}),
          })
        : startMm2({ runId: r.runId, clusters: { [source]: bootstrap(ctx.deployment, source), [target]: bootstrap(ctx.deployment, target) }, flows: [{ source, target, topics: include }], exactlyOnce: setup.mode === 'exactly-once', tasksMax: o.mm2Tasks, heapMb: o.mm2HeapMb, dir: r.dir, name });
    this.run.logFiles.push(proc.logFile);
    return proc;
  }

  private async finish(proc: ReplicatorProcess): Promise<ResourceReading & { graceful: boolean }> {
    const end = await proc.stop(30_000);
    this.run.peakRssMiB = Math.max(this.run.peakRssMiB, end.peakRssMiB);
    return end;
  }

  /** A fresh process copies the backlog; then it is stopped (SIGTERM, so a CPU profile gets written). */
  async throughput(): Promise<void> {
    const { ctx, r, run } = this;
    const profile = r.kind === 'ours' && ctx.opts.profileOurs;
    const proc = this.start(profile);
    try {
      run.copy = await timeCopy({ proc, admin: ctx.clients.admin(ctx.target), target: ctx.clients.kafka(ctx.target), copyTopic: this.copyOf(r.topics.backlog), records: ctx.opts.records, tag: r.tag, verifyGroup: `${r.prefix}-verify-${r.kind}`, pollMs: POLL_MS, stallTimeoutSeconds: 180, log: ctx.log });
      const c = run.copy;
      ctx.progress(`${this.label}: ${Math.round(c.recordsPerSec)} rec/s, ${((c.recordsPerSec * ctx.setup.size) / 1e6).toFixed(1)} MB/s (first copy after ${c.firstVisibleSeconds.toFixed(1)} s; verified ${c.verified.distinct} distinct, ${c.verified.duplicates} duplicates); CPU ${c.cpuSecondsWindow.toFixed(1)} s in the window (${c.cpuSecondsPerMillion.toFixed(1)} s per million), peak RSS ${Math.round(c.peakRssMiB)} MiB`);
    } catch (err) {
      run.errors.push(`throughput: ${(err as Error).message}`);
      ctx.progress(`${this.label}: throughput FAILED: ${(err as Error).message}`);
    } finally {
      await this.finish(proc);
    }
    if (profile && run.copy) {
      run.profile = summarizeOursProfile({ profileDir: join(r.dir, 'cpu-profile'), statsFile: join(r.dir, 'ours-1.rdkafka-stats.jsonl'), windowMonotonicUs: run.copy.windowMonotonicUs, windowWallMs: run.copy.windowWallMs });
      const p = run.profile;
      const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;
      ctx.progress(`ours profile over the copy window (${p.samples} samples): ${p.self.slice(0, 8).map(([k, v]) => `${k} ${pct(v)}`).join(', ')}`);
      if (p.rdkafka) ctx.progress(`ours librdkafka: producer queue p50/p99 ${p.rdkafka.producerQueueLatencyUs.p50}/${p.rdkafka.producerQueueLatencyUs.p99} µs, rtt ${p.rdkafka.producerRttUs.p50}/${p.rdkafka.producerRttUs.p99} µs, batch ${Math.round(p.rdkafka.producerBatchBytes)} B; consumer prefetched up to ${p.rdkafka.consumerPrefetchedRecordsMax} records`);
    }
  }

  /**
   * Produces one record per partition of another run tag (the latency consumer ignores it) to
   * the latency topic and waits until its copies are visible; returns seconds since spawn.
   */
  private async untilCopying(proc: ReplicatorProcess): Promise<number> {
    const { ctx, r } = this;
    const copy = this.copyOf(r.topics.lat(r.kind));
    await produceAll(bootstrap(ctx.deployment, ctx.source), r.topics.lat(r.kind), { count: ctx.opts.partitions, partitions: ctx.opts.partitions, factory: new RecordFactory(ctx.setup.size) });
    const deadline = performance.now() + 600_000;
    for (;;) {
      if (!proc.running()) throw new Error(`${r.kind} exited before copying (${JSON.stringify(await proc.exited)}); see ${proc.logFile}`);
      const n = await endOffsetSum(ctx.clients.admin(ctx.target), copy, true).catch(() => 0);
      if (n > 0) return (performance.now() - proc.spawnedAt) / 1000;
      if (performance.now() > deadline) throw new Error(`${r.kind} copied nothing within 600 s of its start; see ${proc.logFile}`);
      await sleep(100);
    }
  }

  /** A fresh process under a fixed rate: latency, then SIGKILL and restart; the last process is stopped. */
  async liveLoad(rate: number): Promise<void> {
    const { ctx, r, run } = this;
    const { opts: o, source, target, clients } = ctx;
    const handle = { proc: this.start() };
    try {
      // Measure a replicator that is up: MM2 needs tens of seconds to start its herders.
      run.liveStartupSeconds = await this.untilCopying(handle.proc);
      if (!o.skip.has('latency')) {
        try {
          const cpu0 = handle.proc.resources.read().cpuSeconds;
          run.latency = await measureLatencyInChild({
            sourceBootstrap: [...bootstrap(ctx.deployment, source)],
            targetBootstrap: [...bootstrap(ctx.deployment, target)],
            sourceTopic: r.topics.lat(r.kind),
            copyTopic: this.copyOf(r.topics.lat(r.kind)),
            groupId: `${r.prefix}-latency-${r.kind}`,
            ratePerSec: rate,
            partitions: o.partitions,
            size: ctx.setup.size,
            warmupSeconds: o.latencyWarmupSeconds,
            seconds: o.latencySeconds,
          });
          run.latencyCpuSeconds = handle.proc.resources.read().cpuSeconds - cpu0;
          const l = run.latency;
          ctx.progress(`${this.label}: latency at ${l.targetRatePerSec} rec/s (achieved ${Math.round(l.achievedRatePerSec)}): p50 ${l.p50Ms.toFixed(0)} ms, p99 ${l.p99Ms.toFixed(0)} ms, max ${l.maxMs.toFixed(0)} ms (${l.measured} measured, ${l.missing} missing); CPU ${run.latencyCpuSeconds.toFixed(1)} s`);
        } catch (err) {
          run.errors.push(`latency: ${(err as Error).message}`);
          ctx.progress(`${this.label}: latency FAILED: ${(err as Error).message}`);
        }
      }
      if (!o.skip.has('recovery')) {
        try {
          run.recovery = await measureRecovery({
            handle,
            restart: () => this.start(),
            sourceBootstrap: bootstrap(ctx.deployment, source),
            target: clients.kafka(target),
            targetAdmin: clients.admin(target),
            sourceTopic: r.topics.rec(r.kind),
            copyTopic: this.copyOf(r.topics.rec(r.kind)),
            groupId: `${r.prefix}-recovery-${r.kind}`,
            partitions: o.partitions,
            size: ctx.setup.size,
            ratePerSec: rate,
            beforeSeconds: o.recoveryBeforeSeconds,
            afterSeconds: o.recoveryAfterSeconds,
            drainTimeoutSeconds: o.recoveryDrainSeconds,
          });
          const v = run.recovery;
          run.peakRssMiB = Math.max(run.peakRssMiB, v.killed.peakRssMiB);
          ctx.progress(`${this.label}: SIGKILL → resumed in ${v.resumeMs === null ? 'never' : `${(v.resumeMs / 1000).toFixed(1)} s`}; ${v.produced} produced, ${v.distinct} distinct copies, ${v.duplicates} duplicates, ${v.gaps} gaps`);
        } catch (err) {
          run.errors.push(`recovery: ${(err as Error).message}`);
          ctx.progress(`${this.label}: recovery FAILED: ${(err as Error).message}`);
        }
      }
    } finally {
      run.final = await this.finish(handle.proc);
    }
  }
}

/** Deletes every topic and group whose name carries the run id, on each cluster. */
export async function deleteRun(clients: BenchClients, regions: readonly string[], runId: string): Promise<void> {
  for (const region of regions) {
    const admin = clients.admin(region);
    try {
      const topics = (await admin.listTopics({ timeout: 10_000 })).filter((t) => t.includes(runId));
      if (topics.length > 0) await admin.deleteTopics({ topics, timeout: 30_000 });
    } catch {
      // A later run uses new names; leftovers only cost disk until the runtime is purged.
    }
    try {
      const groups = (await admin.listGroups({ timeout: 10_000 })).groups.map((g) => g.groupId).filter((g) => g.includes(runId));
      if (groups.length > 0) await admin.deleteGroups(groups, { timeout: 10_000 });
    } catch {
      // As above.
    }
  }
}

export function bootstrap(d: Readonly<Deployment>, region: string): readonly string[] {
  const r = d.regions[region];
  if (!r) throw new Error(`unknown region ${region}`);
  return r.kafka.bootstrap;
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}
