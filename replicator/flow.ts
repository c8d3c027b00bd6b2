/**
 * One replication flow, source region → target region, in one process. It owns its clients,
 * so a dead region stalls only the flows that touch it. Partitions are spread over every
 * process running the same flow by the source cluster's consumer-group protocol
 * (cooperative-sticky: a rebalance moves only the partitions that must move).
 */
import type { KafkaJS } from '@confluentinc/kafka-javascript';
import type { ReplicationConfig } from '../config/schema.ts';
import { GeoError, isRetriable } from '../core/errors.ts';
import type { Admin, Consumer, KafkaClient } from '../core/kafka.ts';
import { kafkaClient, kafkaError } from '../core/kafka.ts';
import type { Logger } from '../core/logger.ts';
import { backoffDelay, sleep } from '../core/retry.ts';
import type { ReplicatorMetrics } from './metrics.ts';
import { flowNames } from './names.ts';
import type { FlowNames } from './names.ts';
import { namingPolicy } from './naming-policy.ts';
import type { NamingPolicy } from './naming-policy.ts';
import { PartitionCopier, isFatal, isFenced, isPoison } from './partition-copier.ts';
import { TopicSync } from './topic-sync.ts';
import type { SyncResult, TopicConflict } from './topic-sync.ts';

export type FlowState = 'starting' | 'running' | 'unavailable' | 'paused' | 'stopped';
export type PartitionState = 'opening' | 'copying' | 'idle' | 'retrying' | 'error' | 'fenced';

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
  lastCheckpointAt: number | undefined;
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
  copier: PartitionCopier;
  status: PartitionStatus;
  /** The copy in flight, so a revoke can wait for it. */
  busy: Promise<unknown>;
  failures: number;
}

const ASSIGN = -175;
const REVOKE = -174;

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
  private checkpointConsumer: Consumer | undefined;
  private consumer: Consumer | undefined;
  private topicSync: TopicSync | undefined;
  private readonly slots = new Map<string, Slot>();
  private readonly targetOf = new Map<string, string>();
  private subscribed: string[] = [];
  private conflicts: TopicConflict[] = [];
  private stopping = false;
  private paused = false;
  private readonly stopController = new AbortController();
  private loop: Promise<void> | undefined;
  private readonly background = new Set<Promise<unknown>>();

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
    this.pauseAll();
    this.setState('paused', reason);
  }

  resume(): void {
    this.paused = false;
    for (const slot of this.slots.values()) if (slot.status.state === 'error') slot.status.state = 'idle';
    this.resumeAll();
    // Running only if connected; otherwise the flow loop reports what it finds next.
    if (this.state === 'paused') this.setState(this.consumer ? 'running' : 'starting');
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
        .map((s) => ({ ...s, checkpointAgeMs: s.lastCheckpointAt === undefined ? undefined : now - s.lastCheckpointAt }))
        .sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition),
    };
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.stopping) {
      try {
        await this.connect();
        const sync = await this.topicSync?.syncOnce();
        if (sync) await this.applySync(sync);
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
    if (this.consumer) return;
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
      const ckpt = this.targetKafka.consumer({ kafkaJS: { groupId: this.names.checkpointGroup, autoCommit: false } });
      await ckpt.connect();
      this.checkpointConsumer = ckpt;
      this.topicSync = new TopicSync({ sourceRegion: this.o.source.name, sourceBootstrap: this.o.source.bootstrap, targetBootstrap: this.o.target.bootstrap, sourceAdmin, targetAdmin, policy: this.policy, names: this.names, log: this.log });
      const consumer = this.sourceKafka.consumer({
        'isolation.level': 'read_committed',
        'enable.auto.commit': false,
        'partition.assignment.strategy': 'cooperative-sticky',
        'session.timeout.ms': 10_000,
        'heartbeat.interval.ms': 1_000,
        'max.poll.interval.ms': 300_000,
        'topic.metadata.refresh.interval.ms': Math.min(5_000, c.topicSyncIntervalMs),
        'fetch.max.bytes': 64 * 1024 * 1024,
        'max.partition.fetch.bytes': 8 * 1024 * 1024,
        'queued.max.messages.kbytes': 262_144,
        'js.consumer.max.batch.size': c.maxBatchRecords,
        rebalance_cb: (err: { code: number }, assignment: KafkaJS.TopicPartition[], fns: { assign: (a: KafkaJS.TopicPartitionOffset[]) => void; unassign: (a: KafkaJS.TopicPartition[]) => void }) => this.onRebalance(err, assignment, fns),
        kafkaJS: { groupId: this.names.sourceGroup, autoCommit: false, fromBeginning: true },
      });
      await consumer.connect();
      this.consumer = consumer;
    } catch (err) {
      await this.teardownClients();
      throw kafkaError(err, `connecting ${this.names.flowId}`);
    }
  }

  private async applySync(sync: SyncResult): Promise<void> {
    this.conflicts = sync.conflicts;
    for (const t of sync.topics) this.targetOf.set(t.source, t.target);
    const topics = sync.topics.map((t) => t.source).sort();
    const consumer = this.consumer;
    if (!consumer) return;
    if (topics.join('\n') === this.subscribed.join('\n')) return;
    const first = this.subscribed.length === 0;
    this.subscribed = topics;
    if (topics.length === 0) return;
    await consumer.subscribe({ topics, replace: true });
    if (first) {
      await consumer.run({
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: 16,
        eachBatch: (payload) => this.onBatch(payload),
      });
    }
    this.log.info({ topics }, 'subscribed');
  }

  private async onRebalance(err: { code: number }, assignment: KafkaJS.TopicPartition[], fns: { assign: (a: KafkaJS.TopicPartitionOffset[]) => void; unassign: (a: KafkaJS.TopicPartition[]) => void }): Promise<void> {
    if (err.code === ASSIGN) {
      const withOffsets = await this.openPartitions(assignment);
      fns.assign(withOffsets);
      // A partition this process once paused (fenced, or stopped on a poison record) and now
      // owns again must not stay paused: its new copier starts clean.
      if (!this.paused && withOffsets.length > 0) {
        try {
          this.consumer?.resume(withOffsets.map((tp) => ({ topic: tp.topic, partitions: [tp.partition] })));
        } catch (resumeErr) {
          this.log.warn({ err: (resumeErr as Error).message }, 'could not resume newly assigned partitions');
        }
      }
    } else if (err.code === REVOKE) {
      // Hand the partitions back at once and close their producers afterwards: waiting inside
      // the callback stalls the consumer (and its disconnect). A copy still in flight is safe:
      // the next owner's initialisation of the same transactional id fences and aborts it.
      fns.unassign(assignment);
      for (const tp of assignment) this.track(this.closePartition(`${tp.topic}/${tp.partition}`));
    }
  }

  /**
   * Opens a copier per new partition (initialising its transactional id, which fences a previous
   * owner and settles its open transaction), then reads the checkpoints with require_stable so
   * each partition starts exactly after the last committed copy. Retries until it works or the
   * flow stops: consuming without a ready copier could only be thrown away.
   */
  private async openPartitions(assignment: KafkaJS.TopicPartition[]): Promise<KafkaJS.TopicPartitionOffset[]> {
    for (let attempt = 1; ; attempt++) {
      try {
        await Promise.all(assignment.map((tp) => this.openSlot(tp.topic, tp.partition)));
        const checkpoints = await this.readCheckpoints(assignment);
        return assignment.map((tp) => {
          const next = checkpoints.get(`${tp.topic}/${tp.partition}`);
          const slot = this.slots.get(`${tp.topic}/${tp.partition}`);
          if (slot) {
            slot.status.nextSourceOffset = next;
            slot.status.state = 'idle';
          }
          // No checkpoint yet: copy the partition from its beginning (-2, librdkafka's "beginning").
          return { topic: tp.topic, partition: tp.partition, offset: next === undefined ? -2 : Number(next) } as unknown as KafkaJS.TopicPartitionOffset;
        });
      } catch (err) {
        if (this.stopping) return [];
        const delay = backoffDelay(attempt, { baseDelayMs: 250, maxDelayMs: this.o.config.maxBackoffMs });
        this.log.warn({ err: (err as Error).message, retryInMs: delay }, 'opening assigned partitions failed; retrying');
        this.setState('unavailable', (err as Error).message);
        await sleep(Math.max(delay, 100), this.stopController.signal);
      }
    }
  }

  private async openSlot(topic: string, partition: number): Promise<void> {
    const key = `${topic}/${partition}`;
    const existing = this.slots.get(key);
    if (existing && existing.status.state !== 'fenced') return;
    const targetTopic = this.targetOf.get(topic) ?? this.policy.targetTopic(this.o.source.name, topic);
    if (!this.checkpointConsumer) throw new GeoError('KAFKA_UNAVAILABLE', 'checkpoint consumer not connected');
    const copier = new PartitionCopier({
      names: this.names,
      sourceRegion: this.o.source.name,
      targetRegion: this.o.target.name,
      sourceTopic: topic,
      targetTopic,
      partition,
      mode: this.o.config.mode,
      skipReplicated: this.policy.kind === 'identity',
      writeOffsetSyncs: topic !== this.o.heartbeatTopic,
      target: this.targetKafka,
      checkpointConsumer: this.checkpointConsumer,
      log: this.log,
    });
    const status: PartitionStatus = { topic, targetTopic, partition, state: 'opening', reason: undefined, nextSourceOffset: undefined, highWatermark: undefined, lagRecords: undefined, lagMs: 0, copiedRecords: 0, lastCheckpointAt: undefined };
    this.slots.set(key, { copier, status, busy: Promise.resolve(), failures: 0 });
    try {
      await copier.open();
    } catch (err) {
      this.slots.delete(key);
      throw err;
    }
  }

  private async closePartition(key: string): Promise<void> {
    const slot = this.slots.get(key);
    if (!slot) return;
    this.slots.delete(key);
    await slot.busy.catch(() => undefined);
    await slot.copier.close();
    const [topic, partition] = [slot.status.topic, String(slot.status.partition)];
    this.o.metrics.lagRecords.remove({ flow: this.id, topic, partition });
    this.o.metrics.lagSeconds.remove({ flow: this.id, topic, partition });
    this.o.metrics.checkpointAge.remove({ flow: this.id, topic, partition });
  }

  private async readCheckpoints(tps: readonly KafkaJS.TopicPartition[]): Promise<Map<string, string>> {
    // A cooperative rebalance can assign nothing new, and fetchOffsets rejects an empty topic list.
    if (tps.length === 0) return new Map();
    const admin = this.targetAdmin;
    if (!admin) throw new GeoError('KAFKA_UNAVAILABLE', 'target admin not connected');
    const byTarget = new Map<string, string>();
    const targets = [...new Set(tps.map((tp) => this.targetOf.get(tp.topic) ?? this.policy.targetTopic(this.o.source.name, tp.topic)))];
    let fetched: Awaited<ReturnType<Admin['fetchOffsets']>>;
    try {
      fetched = await admin.fetchOffsets({ groupId: this.names.checkpointGroup, topics: targets, requireStableOffsets: true, timeout: 10_000 });
    } catch (err) {
      throw kafkaError(err, `reading checkpoints of ${this.names.flowId}`);
    }
    for (const t of fetched) for (const p of t.partitions) if (Number(p.offset) >= 0) byTarget.set(`${t.topic}/${p.partition}`, p.offset);
    const out = new Map<string, string>();
    for (const tp of tps) {
      const target = this.targetOf.get(tp.topic) ?? this.policy.targetTopic(this.o.source.name, tp.topic);
      const next = byTarget.get(`${target}/${tp.partition}`);
      if (next !== undefined) out.set(`${tp.topic}/${tp.partition}`, next);
    }
    return out;
  }

  private async onBatch(payload: KafkaJS.EachBatchPayload): Promise<void> {
    const { batch } = payload;
    const key = `${batch.topic}/${batch.partition}`;
    const slot = this.slots.get(key);
    if (!slot || batch.messages.length === 0) return;
    if (this.paused || slot.status.state === 'error' || slot.status.state === 'fenced') {
      payload.pause();
      this.consumer?.seek({ topic: batch.topic, partition: batch.partition, offset: batch.messages[0]?.offset ?? '-1' });
      return;
    }
    const run = this.copyBatch(slot, payload);
    slot.busy = run;
    await run;
  }

  private async copyBatch(slot: Slot, payload: KafkaJS.EachBatchPayload): Promise<void> {
    slot.status.state = 'copying';
    // One transaction holds at most maxBatchBytes of keys and values.
    for (const part of byBytes(payload.batch.messages, this.o.config.maxBatchBytes)) {
      const err = await this.copyPart(slot, payload, part);
      if (err !== undefined) {
        await this.recover(slot, payload, err);
        return;
      }
    }
  }

  /**
   * Copies `messages` (a run of the batch) in one transaction and returns undefined, or the error
   * that stopped it. When the target refuses the run for a record it can never accept (poison),
   * the halves are copied separately, so the records before that one are copied and the
   * partition stops exactly at it.
   */
  private async copyPart(slot: Slot, payload: KafkaJS.EachBatchPayload, messages: readonly KafkaJS.KafkaMessage[]): Promise<unknown> {
    const { batch } = payload;
    const s = slot.status;
    try {
      const r = await slot.copier.copy(messages);
      const now = Date.now();
      slot.failures = 0;
      s.state = 'idle';
      s.reason = undefined;
      s.nextSourceOffset = r.nextSourceOffset;
      s.highWatermark = batch.highWatermark;
      s.lagRecords = Math.max(0, Number(BigInt(batch.highWatermark) - BigInt(r.nextSourceOffset)));
      const lastTs = Number(messages[messages.length - 1]?.timestamp ?? now);
      s.lagMs = s.lagRecords > 0 ? Math.max(0, now - lastTs) : 0;
      s.copiedRecords += r.copied;
      s.lastCheckpointAt = now;
      payload.resolveOffset(String(BigInt(r.nextSourceOffset) - 1n));
      const m = this.o.metrics;
      const labels = { flow: this.id, topic: s.topic, partition: String(s.partition) };
      m.records.inc({ flow: this.id, topic: s.topic }, r.copied);
      m.bytes.inc({ flow: this.id }, r.bytes);
      if (r.skipped > 0) m.skipped.inc({ flow: this.id }, r.skipped);
      m.transactions.inc({ flow: this.id, outcome: 'committed' });
      m.lagRecords.set(labels, s.lagRecords);
      m.lagSeconds.set(labels, s.lagMs / 1000);
      m.checkpointAge.set(labels, 0);
      for (const msg of messages) m.latency.observe({ flow: this.id }, Math.max(0, now - Number(msg.timestamp)) / 1000);
      return undefined;
    } catch (err) {
      this.o.metrics.transactions.inc({ flow: this.id, outcome: 'aborted' });
      if (!isPoison(err) || messages.length < 2) return err;
      // The refused produce request leaves the producer's sequence numbers behind: start afresh.
      await slot.copier.close();
      const reopened = await slot.copier.open().then(() => undefined, (e: unknown) => e);
      if (reopened !== undefined) return reopened;
      const half = Math.ceil(messages.length / 2);
      return (await this.copyPart(slot, payload, messages.slice(0, half))) ?? (await this.copyPart(slot, payload, messages.slice(half)));
    }
  }

  /** After a failed copy: stop the partition for good (fenced, poison) or reopen and rewind to the checkpoint. */
  private async recover(slot: Slot, payload: KafkaJS.EachBatchPayload, err: unknown): Promise<void> {
    const { batch } = payload;
    const s = slot.status;
    const message = (err as Error).message;
    if (isFenced(err) || isFatal(err)) {
      s.state = 'fenced';
      s.reason = 'another replicator process owns this partition now (or its producer failed fatally)';
      this.o.metrics.partitionErrors.inc({ flow: this.id, reason: 'fenced' });
      this.log.warn({ partition: slot.copier.key, err: message }, 'fenced by a newer owner; stopping this partition');
      payload.pause();
      await slot.copier.close();
      this.track(this.reclaimLater(slot, batch.topic, batch.partition));
      return;
    }
    if (isPoison(err)) {
      s.state = 'error';
      s.reason = `${message}. The partition is stopped (nothing is skipped); fix the target topic (e.g. max.message.bytes) and resume the flow.`;
      this.o.metrics.partitionErrors.inc({ flow: this.id, reason: 'poison' });
      this.log.error({ partition: slot.copier.key, err: message }, 'copy cannot succeed as configured; partition stopped');
      payload.pause();
      await this.rewind(slot, batch.topic, batch.partition).catch(() => undefined);
      return;
    }
    slot.failures++;
    s.state = 'retrying';
    s.reason = message;
    this.o.metrics.partitionErrors.inc({ flow: this.id, reason: 'retry' });
    const delay = backoffDelay(slot.failures, { baseDelayMs: 200, maxDelayMs: this.o.config.maxBackoffMs });
    this.log.warn({ partition: slot.copier.key, err: message, retryInMs: delay }, 'copy failed; rewinding to the checkpoint');
    await sleep(Math.max(delay, 100), this.stopController.signal);
    try {
      await this.rewind(slot, batch.topic, batch.partition);
    } catch (rewindErr) {
      // Could not learn the checkpoint: replay from the batch start, which the next attempt's
      // reopen will correct if the last commit actually landed.
      this.log.warn({ err: (rewindErr as Error).message }, 'rewind failed; retrying the batch');
      this.consumer?.seek({ topic: batch.topic, partition: batch.partition, offset: batch.messages[0]?.offset ?? '-2' });
      await slot.copier.close();
      await slot.copier.open().catch(() => undefined);
    }
  }

  /**
   * After fencing, waits longer than a session timeout: a zombie learns by then that it lost the
   * partition (the revoke closes the slot and this does nothing). If the partition is still ours,
   * the fatal error had another cause, and the copier is reopened and rewound.
   */
  private async reclaimLater(slot: Slot, topic: string, partition: number): Promise<void> {
    await sleep(15_000, this.stopController.signal);
    if (this.stopping || this.slots.get(`${topic}/${partition}`) !== slot || slot.status.state !== 'fenced') return;
    const stillAssigned = (this.consumer?.assignment() ?? []).some((a) => a.topic === topic && a.partition === partition);
    if (!stillAssigned) return;
    this.log.info({ partition: slot.copier.key }, 'partition still assigned after fencing; reclaiming it');
    await this.rewind(slot, topic, partition);
    slot.status.state = 'idle';
    slot.status.reason = undefined;
    if (!this.paused) this.consumer?.resume([{ topic, partitions: [partition] }]);
  }

  /**
   * Reopens the copier (re-initialising the transactional id settles any transaction whose
   * commit outcome we did not see) and seeks to the checkpoint that is really committed.
   */
  private async rewind(slot: Slot, topic: string, partition: number): Promise<void> {
    await slot.copier.close();
    await slot.copier.open();
    const next = (await this.readCheckpoints([{ topic, partition }])).get(`${topic}/${partition}`);
    slot.status.nextSourceOffset = next;
    this.consumer?.seek({ topic, partition, offset: next ?? '-2' });
  }

  private track(p: Promise<unknown>): void {
    const tracked = p.catch((err: unknown) => this.log.warn({ err: (err as Error).message }, 'background close failed')).finally(() => this.background.delete(tracked));
    this.background.add(tracked);
  }

  private pauseAll(): void {
    const c = this.consumer;
    if (!c) return;
    try {
      const assigned = c.assignment();
      if (assigned.length > 0) c.pause(assigned.map((a) => ({ topic: a.topic, partitions: [a.partition] })));
    } catch {
      // Not running yet: the paused flag stops batches instead.
    }
  }

  private resumeAll(): void {
    const c = this.consumer;
    if (!c) return;
    try {
      const assigned = c.assignment();
      if (assigned.length > 0) c.resume(assigned.map((a) => ({ topic: a.topic, partitions: [a.partition] })));
    } catch {
      // Not running yet.
    }
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
    const consumer = this.consumer;
    this.consumer = undefined;
    this.subscribed = [];
    await consumer?.disconnect().catch(() => undefined);
    await Promise.all([...this.slots.keys()].map((k) => this.closePartition(k)));
    await Promise.all([...this.background]);
    this.topicSync?.close();
    this.topicSync = undefined;
    await this.checkpointConsumer?.disconnect().catch(() => undefined);
    this.checkpointConsumer = undefined;
    await this.sourceAdmin?.disconnect().catch(() => undefined);
    await this.targetAdmin?.disconnect().catch(() => undefined);
    this.sourceAdmin = undefined;
    this.targetAdmin = undefined;
  }
}

function byBytes(messages: readonly KafkaJS.KafkaMessage[], maxBytes: number): KafkaJS.KafkaMessage[][] {
  const parts: KafkaJS.KafkaMessage[][] = [];
  let current: KafkaJS.KafkaMessage[] = [];
  let bytes = 0;
  for (const m of messages) {
    const size = (m.value?.length ?? 0) + (m.key?.length ?? 0);
    if (current.length > 0 && bytes + size > maxBytes) {
      parts.push(current);
      current = [];
      bytes = 0;
    }
    current.push(m);
    bytes += size;
  }
  if (current.length > 0) parts.push(current);
  return parts;
}
