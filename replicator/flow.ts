/**
 * One replication flow, source region → target region, in one process. It owns its clients,
 * so a dead region stalls only the flows that touch it.
 *
 * Partitions are spread over every process running the same flow by the checkpoint group on
 * the *target* cluster (cooperative-sticky: a rebalance moves only the partitions that must
 * move). Its members subscribe to the copies, which have the source's partitions, and never
 * fetch them: a member's assignment says which source partitions it copies, and its generation
 * is what the target's group coordinator checks when a transaction commits their checkpoints,
 * so a process that lost partitions can never commit copies of them (KIP-447).
 *
 * Every partition has a lane of fetched records; one copy loop per flow takes what waits in
 * every lane into one transaction.
 */
import type { ReplicationConfig } from '../config/schema.ts';
import { GeoError, isRetriable } from '../core/errors.ts';
import type { Admin, Consumer, KafkaClient } from '../core/kafka.ts';
import { kafkaClient, kafkaError } from '../core/kafka.ts';
import type { Logger } from '../core/logger.ts';
import { backoffDelay, sleep } from '../core/retry.ts';
import { SerialQueue } from '../core/serial-queue.ts';
import type { ReplicatorMetrics } from './metrics.ts';
import { flowNames } from './names.ts';
import type { FlowNames } from './names.ts';
import { namingPolicy } from './naming-policy.ts';
import type { NamingPolicy } from './naming-policy.ts';
import { CheckpointMember } from './checkpoint-member.ts';
import type { Checkpoint, RebalanceKind } from './checkpoint-member.ts';
import { CopyFailure, FlowCopier, isFatal, isFenced, isPoison } from './flow-copier.ts';
import type { CopyPart, CopyResult } from './flow-copier.ts';
import { PartitionLane, STALE_CHECK_EVERY } from './partition-lane.ts';
import { SourceReader } from './source-reader.ts';
import type { SourceBatch, SourcePosition, SourceRecord } from './source-reader.ts';
import { TopicSync } from './topic-sync.ts';
import type { SyncResult, TopicConflict } from './topic-sync.ts';

export type FlowState = 'starting' | 'running' | 'unavailable' | 'paused' | 'stopped';
export type PartitionState = 'opening' | 'copying' | 'idle' | 'retrying' | 'error';

export interface RegionEndpoint {
  readonly name: string;
  readonly bootstrap: readonly string[];
}

export interface PartitionStatus {
  topic: string;
  targetTopic: string;
  partition: number;
  state: PartitionState;
  reason: string | undefined;
  nextSourceOffset: string | undefined;
  highWatermark: string | undefined;
  lagRecords: number | undefined;
  lagMs: number;
  copiedRecords: number;
  /**
   * Source offsets passed over between a checkpoint and the next record copied: transaction
   * markers, aborted or compacted records. With a plain source (the ingest APIs' idempotent
   * producers) always 0, so anything else there means records were skipped.
   */
  skippedOffsets: number;
  lastCheckpointAt: number | undefined;
  /** When the copy in flight started (undefined: none in flight). */
  copyStartedAt: number | undefined;
}

export interface FlowStatus {
  flow: string;
  source: string;
  target: string;
  state: FlowState;
  reason: string | undefined;
  topics: string[];
  conflicts: TopicConflict[];
  partitions: PartitionStatus[];
}

export interface FlowOptions {
  source: RegionEndpoint;
  target: RegionEndpoint;
  regions: readonly string[];
  heartbeatTopic: string;
  config: Readonly<ReplicationConfig>;
  metrics: ReplicatorMetrics;
  log: Logger;
}

interface Slot {
  status: PartitionStatus;
  /** Fetched records waiting for their copy. */
  lane: PartitionLane;
  /** Fetching paused because the lane is full. */
  backpressured: boolean;
  failures: number;
}

/** A slot's share of the copy being made. */
interface Part {
  key: string;
  slot: Slot;
  records: SourceRecord[];
}

type TP = { topic: string; partition: number };


export class Flow {
  readonly names: FlowNames;
  private readonly o: FlowOptions;
  private readonly policy: NamingPolicy;
  private readonly log: Logger;
  private state: FlowState = 'starting';
  private reason: string | undefined;
  private sourceKafka!: KafkaClient;
  private targetKafka!: KafkaClient;
  private sourceAdmin: Admin | undefined;
  private targetAdmin: Admin | undefined;
  /** This process's member of the checkpoint group (target cluster): assignment and fencing. */
  private member: CheckpointMember | undefined;
  /** Reads checkpoints without waiting for open transactions, to learn who owned a partition. */
  private peek: Consumer | undefined;
  private reader: SourceReader | undefined;
  private copier: FlowCopier | undefined;
  private topicSync: TopicSync | undefined;
  /** By source partition, `<topic>/<partition>`. */
  private readonly slots = new Map<string, Slot>();
  private readonly targetOf = new Map<string, string>();
  private readonly sourceOf = new Map<string, string>();
  private subscribed: string[] = [];
  private conflicts: TopicConflict[] = [];
  private stopping = false;
  private paused = false;
  /**
   * Rebalance events one at a time: an assignment whose partitions are still opening (retrying
   * against a coordinator that moved) must not interleave with the next event.
   */
  private readonly rebalances = new SerialQueue();
  /** Transactions (copies and claims) one at a time: the copier has one producer. */
  private readonly transactions = new SerialQueue();
  /** The copy in flight (resolved when none), so a revoke can wait for it. */
  private inFlight: Promise<void> = Promise.resolve();
  private copyLoop: Promise<void> | undefined;
  private lastCopyAt = 0;
  private wakeCopy: AbortController | undefined;
  private readonly stopController = new AbortController();
  private loop: Promise<void> | undefined;

  constructor(o: FlowOptions) {
    this.o = o;
    this.names = flowNames(o.config.instance, o.source.name, o.target.name);
    this.policy = namingPolicy({ naming: o.config.naming, include: o.config.include, exclude: o.config.exclude, regions: o.regions, instance: o.config.instance, alwaysInclude: [o.heartbeatTopic] });
    this.log = o.log.child({ flow: this.names.flowId });
    this.setState('starting');
  }

  get id(): string {
    return this.names.flowId;
  }

  /** Returns at once; connecting, topic sync and copying run in the background, retried with capped backoff. */
  start(): void {
    this.loop ??= this.run();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.stopController.abort();
    await this.loop?.catch(() => undefined);
    await this.teardownClients();
    this.setState('stopped');
  }

  pause(reason = 'paused by an operator'): void {
    this.paused = true;
    this.reader?.pause(this.assignedSources());
    this.setState('paused', reason);
  }

  resume(): void {
    this.paused = false;
    for (const slot of this.slots.values()) {
      if (slot.status.state === 'error') slot.status.state = 'idle';
      slot.backpressured = false;
    }
    this.reader?.resume(this.assignedSources());
    // Records fetched before the pause wait in their lanes.
    this.wake();
    // Running only if connected; otherwise the flow loop reports what it finds next.
    if (this.state === 'paused') this.setState(this.member ? 'running' : 'starting');
  }

  status(): FlowStatus {
    const now = Date.now();
    return {
      flow: this.id,
      source: this.o.source.name,
      target: this.o.target.name,
      state: this.state,
      reason: this.reason,
      topics: [...this.subscribed],
      conflicts: [...this.conflicts],
      partitions: [...this.slots.values()]
        .map((s) => ({ ...s.status, lagMs: s.status.lagRecords === 0 ? 0 : s.status.lagMs }))
        .map((s) => ({ ...s, checkpointAgeMs: s.lastCheckpointAt === undefined ? undefined : now - s.lastCheckpointAt, copyingForMs: s.copyStartedAt === undefined ? undefined : now - s.copyStartedAt }))
        .sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition),
    };
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.stopping) {
      try {
        await this.connect();
        const sync = await this.topicSync?.syncOnce();
        if (sync) this.applySync(sync);
        failures = 0;
        if (!this.paused && this.state !== 'running') this.setState('running');
        await sleep(this.o.config.topicSyncIntervalMs, this.stopController.signal);
      } catch (err) {
        if (this.stopping) break;
        failures++;
        const delay = backoffDelay(failures, { baseDelayMs: 250, maxDelayMs: this.o.config.maxBackoffMs });
        const e = err instanceof GeoError ? err : kafkaError(err, 'flow loop');
        this.setState('unavailable', e.message);
        this.log.warn({ err: e.message, retryInMs: delay }, 'flow unavailable; retrying');
        if (!isRetriable(e) && failures > 3) await this.teardownClients();
        await sleep(Math.max(delay, 250), this.stopController.signal);
      }
    }
  }

  private async connect(): Promise<void> {
    if (this.member) return;
    const c = this.o.config;
    this.sourceKafka = kafkaClient({ bootstrap: this.o.source.bootstrap, clientId: `${this.names.flowId}`, log: this.log });
    this.targetKafka = kafkaClient({ bootstrap: this.o.target.bootstrap, clientId: `${this.names.flowId}`, log: this.log });
    const sourceAdmin = this.sourceKafka.admin();
    const targetAdmin = this.targetKafka.admin();
    try {
      await sourceAdmin.connect();
      this.sourceAdmin = sourceAdmin;
      await targetAdmin.connect();
      this.targetAdmin = targetAdmin;
      this.topicSync = new TopicSync({ sourceRegion: this.o.source.name, sourceBootstrap: this.o.source.bootstrap, targetBootstrap: this.o.target.bootstrap, sourceAdmin, targetAdmin, policy: this.policy, names: this.names, log: this.log });
      const peek = this.targetKafka.consumer({ 'isolation.level': 'read_uncommitted', kafkaJS: { groupId: this.names.checkpointGroup, autoCommit: false } });
      await peek.connect();
      this.peek = peek;
      const reader = new SourceReader({ bootstrap: this.o.source.bootstrap, clientId: this.names.flowId, groupId: this.names.sourceGroup, maxRecords: c.maxBatchRecords, fetchMinBytes: c.fetchMinBytes, fetchMaxWaitMs: c.fetchMaxWaitMs, log: this.log, onBatch: (b) => this.onBatch(b) });
      this.reader = reader;
      await reader.connect();
      const member = new CheckpointMember({
        bootstrap: this.o.target.bootstrap,
        clientId: this.names.flowId,
        groupId: this.names.checkpointGroup,
        metadataRefreshMs: Math.min(5_000, c.topicSyncIntervalMs),
        onRebalance: (kind, tps) => this.rebalances.run(() => this.onRebalance(kind, tps)),
        log: this.log,
      });
      await member.connect();
      this.member = member;
      const copier = new FlowCopier({ names: this.names, sourceRegion: this.o.source.name, targetRegion: this.o.target.name, mode: c.mode, skipReplicated: this.policy.kind === 'identity', targetBootstrap: this.o.target.bootstrap, member, log: this.log });
      await copier.open();
      this.copier = copier;
      this.copyLoop = this.copyForever();
    } catch (err) {
      await this.teardownClients();
      throw kafkaError(err, `connecting ${this.names.flowId}`);
    }
  }

  private applySync(sync: SyncResult): void {
    this.conflicts = sync.conflicts;
    for (const t of sync.topics) {
      this.targetOf.set(t.source, t.target);
      this.sourceOf.set(t.target, t.source);
    }
    const topics = sync.topics.map((t) => t.source).sort();
    const member = this.member;
    if (!member) return;
    if (topics.join('\n') === this.subscribed.join('\n')) return;
    this.subscribed = topics;
    if (topics.length === 0) return;
    member.subscribe(sync.topics.map((t) => t.target).sort());
    this.log.info({ topics }, 'subscribed');
  }

  private async onRebalance(kind: RebalanceKind, tps: TP[]): Promise<void> {
    if (kind === 'assign') await this.openPartitions(tps);
    else await this.closePartitions(tps);
  }

  /** The source partition of an assigned copy partition (undefined: not a copy this flow knows). */
  private sourceTp(tp: TP): TP | undefined {
    const topic = this.sourceOf.get(tp.topic);
    return topic === undefined ? undefined : { topic, partition: tp.partition };
  }

  /**
   * Takes over newly assigned partitions: fences their previous owners' producers (settling any
   * transaction they left open), reads the checkpoints with require_stable, claims them (so the
   * next owner knows whom to fence), and starts fetching each exactly at its checkpoint. Retries
   * until it works or the flow stops: copying without a checkpoint could only be thrown away.
   */
  private async openPartitions(assignment: readonly TP[]): Promise<void> {
    const copies = assignment.filter((tp) => this.sourceTp(tp) !== undefined && !this.slots.has(key(this.sourceTp(tp) as TP)));
    if (copies.length === 0) return;
    for (let attempt = 1; ; attempt++) {
      try {
        const eos = this.o.config.mode === 'exactly-once';
        if (eos) await this.fencePreviousOwners(copies);
        const checkpoints = await this.readCheckpoints(copies);
        if (eos) await this.claim(copies, checkpoints);
        const positions: SourcePosition[] = [];
        for (const tp of copies) {
          const src = this.sourceTp(tp) as TP;
          const next = checkpoints.get(`${tp.topic}/${tp.partition}`);
          const slot = this.newSlot(src.topic, tp.topic, src.partition);
          slot.status.nextSourceOffset = next;
          slot.lane.reset(next);
          positions.push({ ...src, offset: next });
        }
        this.reader?.assign(positions);
        // librdkafka keeps a partition's pause across unassign and assign: one this process
        // paused before it lost it (a rewind, a full lane) would otherwise never fetch again.
        if (this.paused) this.reader?.pause(positions);
        else this.reader?.resume(positions);
        this.log.info({ partitions: positions.map((p) => `${p.topic}/${p.partition}@${p.offset ?? 'beginning'}`) }, 'partitions assigned');
        return;
      } catch (err) {
        if (this.stopping) return;
        const delay = backoffDelay(attempt, { baseDelayMs: 250, maxDelayMs: this.o.config.maxBackoffMs });
        this.log.warn({ err: (err as Error).message, retryInMs: delay }, 'opening assigned partitions failed; retrying');
        this.setState('unavailable', (err as Error).message);
        await sleep(Math.max(delay, 100), this.stopController.signal);
      }
    }
  }

  /**
   * Initialises the transactional ids named by the partitions' last checkpoints, unless ours.
   * Without it, a transaction left open by an owner that died would hold back every
   * read_committed reader of its partitions (and our checkpoint reads) until it timed out.
   * Correctness does not depend on it (the group generation fences commits), so a failure is
   * only logged.
   */
  private async fencePreviousOwners(copies: readonly TP[]): Promise<void> {
    const peek = this.peek;
    const copier = this.copier;
    if (!peek || !copier) throw new GeoError('KAFKA_UNAVAILABLE', 'flow clients not connected');
    try {
      const owners = (await peek.committed(copies.map((tp) => ({ topic: tp.topic, partition: tp.partition })), 10_000)).map((p) => (p as { metadata?: string | null }).metadata).filter((m): m is string => typeof m === 'string' && m.length > 0);
      await copier.fence(owners);
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'could not fence the previous owners of assigned partitions; a transaction they left open ends at its timeout');
    }
  }

  /** Rewrites the checkpoints just read as ours. An optimisation for the next owner's fencing, so a failure is only logged. */
  private async claim(copies: readonly TP[], checkpoints: ReadonlyMap<string, string>): Promise<void> {
    const claims = copies.flatMap((tp) => {
      const offset = checkpoints.get(`${tp.topic}/${tp.partition}`);
      return offset === undefined ? [] : [{ targetTopic: tp.topic, partition: tp.partition, offset }];
    });
    if (claims.length === 0) return;
    try {
      await this.transactions.run(() => (this.copier as FlowCopier).claim(claims));
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'could not claim assigned partitions');
    }
  }

  private newSlot(topic: string, targetTopic: string, partition: number): Slot {
    const status: PartitionStatus = { topic, targetTopic, partition, state: 'idle', reason: undefined, nextSourceOffset: undefined, highWatermark: undefined, lagRecords: undefined, lagMs: 0, copiedRecords: 0, skippedOffsets: 0, lastCheckpointAt: undefined, copyStartedAt: undefined };
    const slot: Slot = { status, lane: new PartitionLane({ maxRecords: this.o.config.maxBatchRecords, maxBytes: this.o.config.maxBatchBytes }), backpressured: false, failures: 0 };
    this.slots.set(key({ topic, partition }), slot);
    return slot;
  }

  /**
   * Gives partitions back: no copy takes their records any more, and the copy in flight (which
   * may hold some) ends, committed or aborted, before the group may hand them to another member.
   */
  private async closePartitions(assignment: readonly TP[]): Promise<void> {
    const sources = assignment.map((tp) => this.sourceTp(tp)).filter((tp): tp is TP => tp !== undefined);
    for (const tp of sources) {
      const slot = this.slots.get(key(tp));
      if (!slot) continue;
      this.slots.delete(key(tp));
      slot.lane.reset(undefined);
      const labels = { flow: this.id, topic: tp.topic, partition: String(tp.partition) };
      this.o.metrics.lagRecords.remove(labels);
      this.o.metrics.lagSeconds.remove(labels);
      this.o.metrics.checkpointAge.remove(labels);
    }
    try {
      this.reader?.unassign(sources);
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'could not unassign source partitions');
    }
    await this.inFlight;
  }

  /**
   * The committed checkpoints (next source offset) of these copy partitions, read through the
   * member: an OffsetFetch that requires stable offsets (its isolation level is
   * read_committed), so a checkpoint whose transaction is still open is waited for, never read
   * half-done. Not the admin client's fetchOffsets: librdkafka 2.15's admin coordinator
   * requests abort the whole process (assertion `eonce->refcnt > 0`) when the group
   * coordinator goes away mid-request, which is exactly when a rewind reads checkpoints.
   * Keyed by copy partition.
   */
  private async readCheckpoints(copies: readonly TP[]): Promise<Map<string, string>> {
    if (copies.length === 0) return new Map();
    const member = this.member;
    if (!member) throw new GeoError('KAFKA_UNAVAILABLE', 'checkpoint member not connected');
    let fetched: Checkpoint[];
    try {
      fetched = await member.committed(copies, 10_000);
    } catch (err) {
      throw kafkaError(err, `reading checkpoints of ${this.names.flowId}`);
    }
    const out = new Map<string, string>();
    for (const p of fetched) if (p.offset !== undefined) out.set(`${p.topic}/${p.partition}`, p.offset);
    return out;
  }

  /** Takes a fetched batch into its partition's lane; the copy loop copies it. */
  private onBatch(batch: SourceBatch): void {
    const k = key(batch);
    const slot = this.slots.get(k);
    // Not ours (any more): the partition was revoked after this was fetched. Its new owner copies it.
    if (!slot || batch.messages.length === 0) return;
    const reader = this.reader;
    if (this.paused || slot.status.state === 'error' || slot.status.state === 'retrying') {
      // Fetch again from where the lane goes on (everything before it is queued or copied).
      reader?.pause([batch]);
      if (slot.status.state !== 'retrying') reader?.seek(batch.topic, batch.partition, slot.lane.nextOffset() ?? String(batch.messages[0]?.offset ?? 0));
      return;
    }
    const offer = slot.lane.offer(batch.messages);
    if (!offer) return;
    if (offer.kind === 'stale') {
      // Fetched before the rewind's seek took effect: fetch from the checkpoint again.
      this.log.warn({ partition: k, firstOffset: batch.messages[0]?.offset, seekTo: offer.seekTo, attempt: offer.attempts }, 'batch starts past the rewind point; seeking again');
      reader?.seek(batch.topic, batch.partition, offer.seekTo === '-2' ? undefined : offer.seekTo);
      if (offer.attempts % STALE_CHECK_EVERY === 0) void this.checkTruncation(k, slot);
      return;
    }
    const truncated = slot.lane.truncated;
    if (truncated) {
      slot.lane.truncated = undefined;
      this.o.metrics.partitionErrors.inc({ flow: this.id, reason: 'source-truncated' });
      slot.status.reason = `the source deleted offsets ${truncated.from}-${truncated.to} (retention) before they were copied; copying continues after them`;
      this.log.error({ partition: k, ...truncated }, 'source records were deleted before they could be copied');
    }
    if (batch.highWatermark !== undefined) slot.status.highWatermark = batch.highWatermark;
    if (offer.kind === 'queued') {
      if (slot.lane.full && !slot.backpressured) {
        slot.backpressured = true;
        reader?.pause([batch]);
      }
      this.wake();
    }
  }

  /**
   * After repeated stale batches: asks the source whether retention deleted the records after
   * the rewind point. Only then does the lane go on past them; otherwise seeking goes on.
   */
  private async checkTruncation(k: string, slot: Slot): Promise<void> {
    const reader = this.reader;
    if (!reader) return;
    let low: number;
    try {
      low = await reader.lowWatermark(slot.status.topic, slot.status.partition, 10_000);
    } catch (err) {
      this.log.warn({ partition: k, err: (err as Error).message }, 'could not read the source partition\'s log start; seeking on');
      return;
    }
    if (this.slots.get(k) !== slot) return;
    const from = slot.lane.sourceStartsAt(low);
    if (from !== undefined) reader.seek(slot.status.topic, slot.status.partition, from);
  }

  /** Ends the copy loop's wait: records arrived (it decides whether they are enough). */
  private wake(): void {
    this.wakeCopy?.abort();
  }

  /**
   * The flow's copy loop: one copy at a time, each taking what waits in every lane (up to a
   * transaction's worth per partition). A copy starts at most once per minCopyIntervalMs unless
   * minCopyRecords records or a lane's whole batch wait.
   */
  private async copyForever(): Promise<void> {
    while (!this.stopping) {
      const wait = this.copyWait();
      if (wait !== 0) {
        const wake = new AbortController();
        this.wakeCopy = wake;
        // Rechecked after arming: records that arrived in between would otherwise wait a whole interval.
        if (this.copyWait() !== 0) await sleep(wait ?? 60_000, AbortSignal.any([this.stopController.signal, wake.signal]));
        this.wakeCopy = undefined;
        continue;
      }
      this.lastCopyAt = Date.now();
      const done = this.transactions.run(() => this.copyOnce());
      this.inFlight = done.catch(() => undefined);
      await this.inFlight;
    }
  }

  /** 0: copy now; a number: wait that long for more; undefined: nothing to copy. */
  private copyWait(): number | undefined {
    if (this.paused) return undefined;
    let records = 0;
    let full = false;
    for (const slot of this.slots.values()) {
      if (!copyable(slot)) continue;
      records += slot.lane.records;
      if (!slot.lane.drained) full = true;
    }
    if (records === 0) return undefined;
    const interval = this.o.config.minCopyIntervalMs;
    if (interval === 0 || full || records >= this.o.config.minCopyRecords) return 0;
    return Math.max(0, this.lastCopyAt + interval - Date.now());
  }

  private async copyOnce(): Promise<void> {
    const copier = this.copier;
    if (!copier || this.paused || this.stopping) return;
    const parts: Part[] = [];
    for (const [k, slot] of this.slots) {
      if (!copyable(slot) || slot.lane.records === 0) continue;
      parts.push({ key: k, slot, records: slot.lane.take() });
    }
    if (parts.length === 0) return;
    const started = Date.now();
    for (const p of parts) {
      p.slot.status.state = 'copying';
      p.slot.status.copyStartedAt = started;
    }
    try {
      const results = await copier.copy(parts.map((p) => this.copyPart(p)));
      parts.forEach((p, i) => this.copied(p, results[i] as CopyResult));
      this.o.metrics.transactions.inc({ flow: this.id, outcome: 'committed' });
    } catch (err) {
      this.o.metrics.transactions.inc({ flow: this.id, outcome: 'aborted' });
      await this.recover(parts, err instanceof CopyFailure ? err : new CopyFailure(kafkaError(err, `copying ${this.id}`), undefined));
    } finally {
      for (const p of parts) p.slot.status.copyStartedAt = undefined;
    }
  }

  private copyPart(p: Part): CopyPart {
    return { sourceTopic: p.slot.status.topic, targetTopic: p.slot.status.targetTopic, partition: p.slot.status.partition, messages: p.records, writeOffsetSyncs: p.slot.status.topic !== this.o.heartbeatTopic };
  }

  /** A part's copy committed: status, metrics, and fetching resumed if the lane had filled. */
  private copied(p: Part, r: CopyResult): void {
    const { slot, records } = p;
    const s = slot.status;
    const now = Date.now();
    slot.failures = 0;
    // Offsets from the checkpoint to the last record copied, minus the records: O(1), no per-record work.
    const first = records[0]?.offset;
    const last = records[records.length - 1]?.offset;
    const gap = first === undefined || last === undefined ? 0 : last + 1 - (s.nextSourceOffset === undefined ? first : Number(s.nextSourceOffset)) - records.length;
    if (gap > 0) {
      s.skippedOffsets += gap;
      this.o.metrics.offsetGaps.inc({ flow: this.id, topic: s.topic }, gap);
      this.log.debug({ partition: p.key, checkpoint: s.nextSourceOffset, firstCopied: first }, 'source offsets passed over between copies');
    }
    if (s.state === 'copying') s.state = 'idle';
    if (!s.reason?.startsWith('the source deleted')) s.reason = undefined;
    s.nextSourceOffset = r.nextSourceOffset;
    s.lagRecords = s.highWatermark === undefined ? undefined : Math.max(0, Number(BigInt(s.highWatermark) - BigInt(r.nextSourceOffset)));
    const oldest = records[0]?.timestamp ?? now;
    const lastTs = records[records.length - 1]?.timestamp ?? now;
    s.lagMs = (s.lagRecords ?? 0) > 0 ? Math.max(0, now - lastTs) : 0;
    s.copiedRecords += r.copied;
    s.lastCheckpointAt = now;
    const m = this.o.metrics;
    const labels = { flow: this.id, topic: s.topic, partition: String(s.partition) };
    m.records.inc({ flow: this.id, topic: s.topic }, r.copied);
    m.bytes.inc({ flow: this.id }, r.bytes);
    if (r.skipped > 0) m.skipped.inc({ flow: this.id }, r.skipped);
    m.lagRecords.set(labels, s.lagRecords ?? 0);
    m.lagSeconds.set(labels, s.lagMs / 1000);
    m.checkpointAge.set(labels, 0);
    // Once per part, for its oldest record (the part's worst latency): per record it costs more than it tells.
    m.latency.observe({ flow: this.id }, Math.max(0, now - oldest) / 1000);
    if (slot.backpressured && slot.lane.drained && this.slots.get(p.key) === slot) this.unthrottle(slot);
  }

  /**
   * After a failed copy, every partition in it is rewound to its committed checkpoint. When the
   * target refused one part's records for good (poison), that part is first copied alone, in
   * halves, so the records before the refused one are copied and the partition stops exactly at it.
   */
  private async recover(parts: readonly Part[], failure: CopyFailure): Promise<void> {
    const err = failure.error;
    const poisoned = failure.partIndex !== undefined && isPoison(err) ? parts[failure.partIndex] : undefined;
    const others = parts.filter((p) => p !== poisoned);
    // The aborted transaction leaves the producer's sequence numbers behind (a refused produce),
    // and a fenced or fatally failed producer is unusable: every failure reopens it.
    const reopened = await this.reopenCopier();
    if (poisoned) {
      const perr = reopened ?? (await this.bisect(poisoned, poisoned.records));
      if (perr !== undefined && isPoison(perr)) await this.stopPoisoned(poisoned, perr);
      else if (perr !== undefined) others.push(poisoned);
      else poisoned.slot.status.state = 'idle';
    }
    if (others.length > 0) await this.rewind(others, reopened ?? err);
  }

  /** Closes and reopens the copier: re-initialising its transactional id settles any transaction whose outcome we did not see. Returns the error if it fails. */
  private async reopenCopier(): Promise<unknown> {
    const copier = this.copier;
    if (!copier) return new GeoError('KAFKA_UNAVAILABLE', 'copier not connected');
    await copier.close();
    return copier.open().then(
      () => undefined,
      (e: unknown) => e,
    );
  }

  /** Copies `records` of one partition alone, splitting around a record the target refuses; returns undefined or the error that stopped it. */
  private async bisect(p: Part, records: SourceRecord[]): Promise<unknown> {
    const copier = this.copier;
    if (!copier) return new GeoError('KAFKA_UNAVAILABLE', 'copier not connected');
    try {
      const [r] = await copier.copy([this.copyPart({ ...p, records })]);
      this.o.metrics.transactions.inc({ flow: this.id, outcome: 'committed' });
      this.copied({ ...p, records }, r as CopyResult);
      return undefined;
    } catch (err) {
      this.o.metrics.transactions.inc({ flow: this.id, outcome: 'aborted' });
      const e = err instanceof CopyFailure ? err.error : err;
      if (!isPoison(e) || records.length < 2) return e;
      const reopened = await this.reopenCopier();
      if (reopened !== undefined) return reopened;
      const half = Math.ceil(records.length / 2);
      return (await this.bisect(p, records.slice(0, half))) ?? (await this.bisect(p, records.slice(half)));
    }
  }

  /** A record the target can never accept: the partition stops at it (nothing is skipped) until an operator fixes the target and resumes. */
  private async stopPoisoned(p: Part, err: unknown): Promise<void> {
    const s = p.slot.status;
    const message = (err as Error).message;
    s.state = 'error';
    s.reason = `${message}. The partition is stopped (nothing is skipped); fix the target topic (e.g. max.message.bytes) and resume the flow.`;
    this.o.metrics.partitionErrors.inc({ flow: this.id, reason: 'poison' });
    this.log.error({ partition: p.key, err: message }, 'copy cannot succeed as configured; partition stopped');
    p.slot.lane.reset(undefined);
    if (this.slots.get(p.key) === p.slot) this.reader?.pause([s]);
    // Stopped at the checkpoint, so that a resume after the fix starts with the refused record.
    await this.rewindUntilDone([p], message, 'error');
  }

  /** Rewinds the parts of a failed copy to their checkpoints, fetching them again from there. */
  private async rewind(parts: readonly Part[], err: unknown): Promise<void> {
    const message = (err as Error).message;
    const fenced = isFenced(err) || isFatal(err);
    for (const p of parts) {
      const s = p.slot.status;
      p.slot.failures++;
      s.state = 'retrying';
      s.reason = fenced ? `another replicator process took partitions of this flow and fenced our producer: ${message}` : message;
      // Nothing queued may be copied before the rewind (it would follow a gap), and nothing is
      // fetched until the checkpoint is known: guessing where to go on could copy a record twice.
      p.slot.lane.reset(undefined);
      if (this.slots.get(p.key) === p.slot) this.reader?.pause([s]);
    }
    this.o.metrics.partitionErrors.inc({ flow: this.id, reason: fenced ? 'fenced' : 'retry' }, parts.length);
    this.log.warn({ partitions: parts.map((p) => p.key), err: message }, 'copy failed; rewinding to the checkpoints');
    await this.rewindUntilDone(parts, message, 'idle');
  }

  /**
   * Reads the parts' committed checkpoints (reopening the copier first if it is down) and
   * seeks there, with backoff until it works, the partitions move or the flow stops. Each
   * partition's first batch afterwards must start no later than its failed copy.
   */
  private async rewindUntilDone(parts: readonly Part[], why: string, then: 'idle' | 'error'): Promise<void> {
    const failures = Math.max(...parts.map((p) => p.slot.failures));
    for (let attempt = 1; !this.stopping; attempt++) {
      const live = parts.filter((p) => this.slots.get(p.key) === p.slot);
      if (live.length === 0) return;
      const delay = backoffDelay(failures + attempt - 1, { baseDelayMs: 200, maxDelayMs: this.o.config.maxBackoffMs });
      await sleep(Math.max(delay, 100), this.stopController.signal);
      try {
        if (!this.copier) throw new GeoError('KAFKA_UNAVAILABLE', 'copier not connected');
        const reopened = attempt > 1 ? await this.reopenCopier() : undefined;
        if (reopened !== undefined) throw kafkaError(reopened, `reopening the copier of ${this.id}`);
        const checkpoints = await this.readCheckpoints(live.map((p) => ({ topic: p.slot.status.targetTopic, partition: p.slot.status.partition })));
        for (const p of live) {
          if (this.slots.get(p.key) !== p.slot) continue;
          const s = p.slot.status;
          const next = checkpoints.get(`${s.targetTopic}/${s.partition}`);
          s.nextSourceOffset = next;
          p.slot.lane.reset(next, p.records[0]?.offset);
          this.reader?.seek(s.topic, s.partition, next);
          if (then === 'idle') {
            s.state = 'idle';
            p.slot.backpressured = false;
            if (!this.paused) this.reader?.resume([s]);
          }
        }
        return;
      } catch (err) {
        for (const p of live) if (p.slot.status.state === 'retrying') p.slot.status.reason = `${why}; rewinding: ${(err as Error).message}`;
        this.log.warn({ partitions: live.map((p) => p.key), err: (err as Error).message, attempt }, 'rewind failed; retrying it');
      }
    }
  }

  /** Resumes fetching a partition paused for backpressure, unless something else keeps it paused. */
  private unthrottle(slot: Slot): void {
    slot.backpressured = false;
    if (this.paused || slot.status.state === 'error') return;
    this.reader?.resume([slot.status]);
  }

  private assignedSources(): TP[] {
    return [...this.slots.values()].map((s) => ({ topic: s.status.topic, partition: s.status.partition }));
  }

  private setState(state: FlowState, reason?: string): void {
    if (this.paused && state === 'running') return;
    if (state !== this.state || reason !== this.reason) {
      if (state !== 'starting') this.log.info({ state, reason }, 'flow state');
    }
    this.state = state;
    this.reason = reason;
    for (const s of ['starting', 'running', 'unavailable', 'paused', 'stopped'] as const) this.o.metrics.flowState.set({ flow: this.id, state: s }, s === state ? 1 : 0);
  }

  private async teardownClients(): Promise<void> {
    const member = this.member;
    this.member = undefined;
    this.subscribed = [];
    this.wake();
    await this.copyLoop?.catch(() => undefined);
    this.copyLoop = undefined;
    // Leaving the group revokes every partition (closePartitions), after the copy in flight.
    await member?.disconnect().catch(() => undefined);
    for (const k of [...this.slots.keys()]) this.slots.delete(k);
    await this.reader?.close().catch(() => undefined);
    this.reader = undefined;
    await this.copier?.shutdown();
    this.copier = undefined;
    this.topicSync?.close();
    this.topicSync = undefined;
    await this.peek?.disconnect().catch(() => undefined);
    this.peek = undefined;
    await this.sourceAdmin?.disconnect().catch(() => undefined);
    await this.targetAdmin?.disconnect().catch(() => undefined);
    this.sourceAdmin = undefined;
    this.targetAdmin = undefined;
  }
}

/** Whether the copy loop may take the slot's records: not while it rewinds or is stopped on a poison record. */
function copyable(slot: Slot): boolean {
  return slot.status.state === 'idle' || slot.status.state === 'copying';
}

function key(tp: TP): string {
  return `${tp.topic}/${tp.partition}`;
}
