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
import { BATCHED_FETCH, kafkaClient, kafkaError } from '../core/kafka.ts';
import type { Logger } from '../core/logger.ts';
import { backoffDelay, sleep } from '../core/retry.ts';
import type { ReplicatorMetrics } from './metrics.ts';
import { flowNames } from './names.ts';
import type { FlowNames } from './names.ts';
import { namingPolicy } from './naming-policy.ts';
import type { NamingPolicy } from './naming-policy.ts';
import { PartitionCopier, isFatal, isFenced, isPoison } from './partition-copier.ts';
import { PartitionLane } from './partition-lane.ts';
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
  copier: PartitionCopier;
  status: PartitionStatus;
  /** Fetched records waiting for their copy. */
  lane: PartitionLane;
  /** The copy loop while it runs, so a revoke can wait for the copy in flight. */
  busy: Promise<unknown>;
  running: boolean;
  /** Fetching paused because the lane is full. */
  backpressured: boolean;
  failures: number;
  /** When the last copy was started (minCopyIntervalMs counts from it). */
  lastCopyAt: number;
  /** Ends the copy loop's wait for more records (set while it waits). */
  wake: (() => void) | undefined;
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
  private rebalancing: Promise<void> = Promise.resolve();
  /** Assigned partitions that fetched with no copier, being adopted (see adoptOrphan). */
  private readonly orphans = new Set<string>();
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
    for (const slot of this.slots.values()) {
      if (slot.status.state === 'error') slot.status.state = 'idle';
      slot.backpressured = false;
    }
    this.resumeAll();
    // Records fetched before the pause wait in their lanes.
    for (const slot of this.slots.values()) if (slot.lane.records > 0) this.drain(slot);
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
        ...BATCHED_FETCH,
        'js.consumer.max.batch.size': c.maxBatchRecords,
        rebalance_cb: (err: { code: number }, assignment: KafkaJS.TopicPartition[], fns: { assign: (a: KafkaJS.TopicPartitionOffset[]) => void; unassign: (a: KafkaJS.TopicPartition[]) => void }) => this.serially(() => this.onRebalance(err, assignment, fns)),
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

  /**
   * Rebalance events (and adopting orphans) one at a time: an assignment whose copiers are still
   * opening (retrying against a coordinator that moved) must not interleave with the next event,
   * or a partition can end up assigned to the consumer with no copier for it.
   */
  private serially<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.rebalancing.then(fn, fn);
    this.rebalancing = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
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
        // A partition whose slot is still open and healthy is not reset: a copy of it may be in
        // flight, and its lane knows where fetching must go on.
        const kept = new Set(assignment.map((tp) => `${tp.topic}/${tp.partition}`).filter((k) => this.slots.has(k) && this.slots.get(k)?.status.state !== 'fenced'));
        await Promise.all(assignment.map((tp) => this.openSlot(tp.topic, tp.partition)));
        const checkpoints = await this.readCheckpoints(assignment);
        return assignment.map((tp) => {
          const key = `${tp.topic}/${tp.partition}`;
          const slot = this.slots.get(key);
          let next = checkpoints.get(key);
          if (slot && kept.has(key)) {
            next = slot.lane.nextOffset() ?? next;
          } else if (slot) {
            slot.status.nextSourceOffset = next;
            slot.status.state = 'idle';
            slot.lane.reset(next);
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
    const status: PartitionStatus = { topic, targetTopic, partition, state: 'opening', reason: undefined, nextSourceOffset: undefined, highWatermark: undefined, lagRecords: undefined, lagMs: 0, copiedRecords: 0, lastCheckpointAt: undefined, copyStartedAt: undefined };
    const lane = new PartitionLane({ maxRecords: this.o.config.maxBatchRecords, maxBytes: this.o.config.maxBatchBytes });
    this.slots.set(key, { copier, status, lane, busy: Promise.resolve(), running: false, backpressured: false, failures: 0, lastCopyAt: 0, wake: undefined });
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
    slot.lane.reset(undefined);
    await slot.busy.catch(() => undefined);
    await slot.copier.close();
    const [topic, partition] = [slot.status.topic, String(slot.status.partition)];
    this.o.metrics.lagRecords.remove({ flow: this.id, topic, partition });
    this.o.metrics.lagSeconds.remove({ flow: this.id, topic, partition });
    this.o.metrics.checkpointAge.remove({ flow: this.id, topic, partition });
  }

  /**
   * The committed checkpoints (next source offset) of these source partitions, read through the
   * checkpoint group's consumer: an OffsetFetch that requires stable offsets (its isolation
   * level is read_committed), so a checkpoint whose transaction is still open is waited for,
   * never read half-done. Not the admin client's fetchOffsets: librdkafka 2.15's admin
   * coordinator requests abort the whole process (assertion `eonce->refcnt > 0`) when the group
   * coordinator goes away mid-request, which is exactly when a rewind reads checkpoints.
   */
  private async readCheckpoints(tps: readonly KafkaJS.TopicPartition[]): Promise<Map<string, string>> {
    // A cooperative rebalance can assign nothing new.
    if (tps.length === 0) return new Map();
    const consumer = this.checkpointConsumer;
    if (!consumer) throw new GeoError('KAFKA_UNAVAILABLE', 'checkpoint consumer not connected');
    const targetOf = (topic: string): string => this.targetOf.get(topic) ?? this.policy.targetTopic(this.o.source.name, topic);
    let fetched: Awaited<ReturnType<Consumer['committed']>>;
    try {
      fetched = await consumer.committed(tps.map((tp) => ({ topic: targetOf(tp.topic), partition: tp.partition })), 10_000);
    } catch (err) {
      throw kafkaError(err, `reading checkpoints of ${this.names.flowId}`);
    }
    const byTarget = new Map<string, string>();
    // No checkpoint yet comes back as null (or a negative sentinel).
    for (const p of fetched) if (typeof p.offset === 'string' && /^\d+$/.test(p.offset)) byTarget.set(`${p.topic}/${p.partition}`, p.offset);
    const out = new Map<string, string>();
    for (const tp of tps) {
      const next = byTarget.get(`${targetOf(tp.topic)}/${tp.partition}`);
      if (next !== undefined) out.set(`${tp.topic}/${tp.partition}`, next);
    }
    return out;
  }

  /**
   * Takes a fetched batch into its partition's lane and returns at once: the partition's copy
   * loop (drain) copies it, so the consumer keeps fetching every partition meanwhile.
   */
  private onBatch(payload: KafkaJS.EachBatchPayload): Promise<void> {
    const { batch } = payload;
    const key = `${batch.topic}/${batch.partition}`;
    const slot = this.slots.get(key);
    if (batch.messages.length === 0) return Promise.resolve();
    if (!slot) {
      // Assigned, fetching, and no copier: never drop it silently. Stop fetching it and open its
      // copier from the checkpoint, as an assignment would.
      payload.pause();
      if (!this.orphans.has(key) && !this.stopping) {
        this.orphans.add(key);
        this.log.warn({ partition: key, firstOffset: batch.messages[0]?.offset }, 'records of a partition with no copier; opening one from its checkpoint');
        this.track(this.serially(() => this.adoptOrphan(batch.topic, batch.partition)).finally(() => this.orphans.delete(key)));
      }
      return Promise.resolve();
    }
    if (this.paused || slot.status.state === 'error' || slot.status.state === 'fenced') {
      // Fetch again from where the lane goes on (everything before it is queued or copied).
      payload.pause();
      this.consumer?.seek({ topic: batch.topic, partition: batch.partition, offset: slot.lane.nextOffset() ?? batch.messages[0]?.offset ?? '-2' });
      return Promise.resolve();
    }
    const offer = slot.lane.offer(batch.messages);
    if (!offer) return Promise.resolve();
    if (offer.kind === 'stale') {
      // Fetched before the rewind's seek took effect: fetch from the checkpoint again (seeking
      // inside the batch also stops the consumer from seeking back to this batch's start).
      this.log.warn({ partition: key, firstOffset: batch.messages[0]?.offset, seekTo: offer.seekTo, attempt: offer.attempts }, 'batch starts past the rewind point; seeking again');
      this.consumer?.seek({ topic: batch.topic, partition: batch.partition, offset: offer.seekTo });
      return Promise.resolve();
    }
    const truncated = slot.lane.truncated;
    if (truncated) {
      slot.lane.truncated = undefined;
      this.o.metrics.partitionErrors.inc({ flow: this.id, reason: 'source-truncated' });
      slot.status.reason = `the source deleted offsets ${truncated.from}-${truncated.to} (retention) before they were copied; copying continues after them`;
      this.log.error({ partition: key, ...truncated }, 'source records were deleted before they could be copied');
    }
    // Accounted for (queued, or taken before): the consumer's position moves past the batch.
    payload.resolveOffset(offer.lastOffset);
    slot.status.highWatermark = batch.highWatermark;
    if (offer.kind === 'queued') {
      if (slot.lane.full && !slot.backpressured) {
        slot.backpressured = true;
        payload.pause();
      }
      if (slot.wake && this.enoughToCopy(slot)) slot.wake();
      this.drain(slot);
    }
    return Promise.resolve();
  }

  /** Starts the partition's copy loop unless it runs: one copy at a time, each taking all that waits (up to a transaction's worth). */
  private drain(slot: Slot): void {
    if (slot.running) return;
    slot.running = true;
    // Whether the loop may copy: a stopping or paused flow, or a slot that was replaced, may not.
    const mayCopy = (): boolean => !this.stopping && !this.paused && this.slots.get(`${slot.status.topic}/${slot.status.partition}`) === slot;
    slot.busy = (async () => {
      try {
        while (mayCopy()) {
          const wait = this.copyWait(slot);
          if (wait > 0) {
            await this.waitForRecords(slot, wait);
            if (!mayCopy()) break;
          }
          slot.lastCopyAt = Date.now();
          const records = slot.lane.take();
          if (records.length === 0) break;
          slot.status.state = 'copying';
          slot.status.copyStartedAt = Date.now();
          const err = await this.copyPart(slot, records).finally(() => (slot.status.copyStartedAt = undefined));
          if (err !== undefined) {
            await this.recover(slot, records, err);
            break;
          }
          if (slot.backpressured && slot.lane.drained) this.unthrottle(slot);
        }
      } finally {
        slot.running = false;
      }
      // Records that arrived as the loop ended. Only when it may copy: a paused flow would
      // otherwise start the loop again synchronously, without end (a stack overflow).
      if (slot.lane.records > 0 && slot.status.state === 'idle' && mayCopy()) this.drain(slot);
    })();
  }

  /** How long the partition's next copy waits for more records (minCopyIntervalMs), 0 once minCopyRecords or a whole batch are queued. */
  private copyWait(slot: Slot): number {
    const interval = this.o.config.minCopyIntervalMs;
    if (interval === 0 || this.enoughToCopy(slot)) return 0;
    return slot.lastCopyAt + interval - Date.now();
  }

  /** minCopyRecords records, or a whole batch's bytes, wait: the next copy starts without waiting for the interval. */
  private enoughToCopy(slot: Slot): boolean {
    return slot.lane.records >= this.o.config.minCopyRecords || !slot.lane.drained;
  }

  /** Sleeps up to `ms`, or until minCopyRecords records wait (onBatch wakes it) or the flow stops. */
  private waitForRecords(slot: Slot, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const signal = this.stopController.signal;
      const done = (): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        slot.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener('abort', done, { once: true });
      slot.wake = done;
    });
  }

  /** Resumes fetching a partition paused for backpressure, unless something else keeps it paused. */
  private unthrottle(slot: Slot): void {
    slot.backpressured = false;
    if (this.paused || slot.status.state === 'error' || slot.status.state === 'fenced') return;
    this.resumePartition(slot.status.topic, slot.status.partition);
  }

  /**
   * Copies `messages` (consecutive records of the partition) in one transaction and returns
   * undefined, or the error that stopped it. When the target refuses the run for a record it
   * can never accept (poison), the halves are copied separately, so the records before that one
   * are copied and the partition stops exactly at it.
   */
  private async copyPart(slot: Slot, messages: readonly KafkaJS.KafkaMessage[]): Promise<unknown> {
    const s = slot.status;
    try {
      const r = await slot.copier.copy(messages);
      const now = Date.now();
      slot.failures = 0;
      s.state = 'idle';
      if (!s.reason?.startsWith('the source deleted')) s.reason = undefined;
      s.nextSourceOffset = r.nextSourceOffset;
      s.lagRecords = s.highWatermark === undefined ? undefined : Math.max(0, Number(BigInt(s.highWatermark) - BigInt(r.nextSourceOffset)));
      const oldest = Number(messages[0]?.timestamp ?? now);
      const lastTs = Number(messages[messages.length - 1]?.timestamp ?? now);
      s.lagMs = (s.lagRecords ?? 0) > 0 ? Math.max(0, now - lastTs) : 0;
      s.copiedRecords += r.copied;
      s.lastCheckpointAt = now;
      const m = this.o.metrics;
      const labels = { flow: this.id, topic: s.topic, partition: String(s.partition) };
      m.records.inc({ flow: this.id, topic: s.topic }, r.copied);
      m.bytes.inc({ flow: this.id }, r.bytes);
      if (r.skipped > 0) m.skipped.inc({ flow: this.id }, r.skipped);
      m.transactions.inc({ flow: this.id, outcome: 'committed' });
      m.lagRecords.set(labels, s.lagRecords ?? 0);
      m.lagSeconds.set(labels, s.lagMs / 1000);
      m.checkpointAge.set(labels, 0);
      // Once per copy, for its oldest record (the copy's worst latency): per record it costs more than it tells.
      m.latency.observe({ flow: this.id }, Math.max(0, now - oldest) / 1000);
      return undefined;
    } catch (err) {
      this.o.metrics.transactions.inc({ flow: this.id, outcome: 'aborted' });
      if (!isPoison(err) || messages.length < 2) return err;
      // The refused produce request leaves the producer's sequence numbers behind: start afresh.
      await slot.copier.close();
      const reopened = await slot.copier.open().then(() => undefined, (e: unknown) => e);
      if (reopened !== undefined) return reopened;
      const half = Math.ceil(messages.length / 2);
      return (await this.copyPart(slot, messages.slice(0, half))) ?? (await this.copyPart(slot, messages.slice(half)));
    }
  }

  /** After a failed copy of `messages`: stop the partition for good (fenced, poison) or reopen and rewind to the checkpoint. */
  private async recover(slot: Slot, messages: readonly KafkaJS.KafkaMessage[], err: unknown): Promise<void> {
    const { topic, partition } = slot.status;
    const s = slot.status;
    const failedFrom = messages[0]?.offset;
    const message = (err as Error).message;
    if (isFenced(err) || isFatal(err)) {
      s.state = 'fenced';
      s.reason = 'another replicator process owns this partition now (or its producer failed fatally)';
      this.o.metrics.partitionErrors.inc({ flow: this.id, reason: 'fenced' });
      this.log.warn({ partition: slot.copier.key, err: message }, 'fenced by a newer owner; stopping this partition');
      this.pausePartition(topic, partition);
      slot.lane.reset(undefined);
      await slot.copier.close();
      this.track(this.reclaimLater(slot, topic, partition));
      return;
    }
    if (isPoison(err)) {
      s.state = 'error';
      s.reason = `${message}. The partition is stopped (nothing is skipped); fix the target topic (e.g. max.message.bytes) and resume the flow.`;
      this.o.metrics.partitionErrors.inc({ flow: this.id, reason: 'poison' });
      this.log.error({ partition: slot.copier.key, err: message }, 'copy cannot succeed as configured; partition stopped');
      slot.lane.reset(undefined);
      this.pausePartition(topic, partition);
      // Stopped at the checkpoint, so that a resume after the fix starts with the refused record.
      await this.rewindUntilDone(slot, topic, partition, failedFrom, message);
      return;
    }
    slot.failures++;
    s.state = 'retrying';
    s.reason = message;
    this.o.metrics.partitionErrors.inc({ flow: this.id, reason: 'retry' });
    this.log.warn({ partition: slot.copier.key, err: message }, 'copy failed; rewinding to the checkpoint');
    // Nothing queued may be copied before the rewind (it would follow a gap), and nothing is
    // fetched until the checkpoint is known: guessing where to go on could copy a record twice.
    slot.lane.reset(undefined);
    this.pausePartition(topic, partition);
    await this.rewindUntilDone(slot, topic, partition, failedFrom, message);
    if (s.state === 'retrying') s.state = 'idle';
    slot.backpressured = false;
    if (!this.paused) this.resumePartition(topic, partition);
  }

  /** Opens the copier of an assigned partition that has none, then fetches it from its checkpoint. */
  private async adoptOrphan(topic: string, partition: number): Promise<void> {
    const key = `${topic}/${partition}`;
    if (this.stopping || this.slots.has(key)) return;
    const assigned = (this.consumer?.assignment() ?? []).some((a) => a.topic === topic && a.partition === partition);
    if (!assigned) return;
    const [tpo] = await this.openPartitions([{ topic, partition }]);
    if (!tpo || this.stopping) return;
    this.consumer?.seek({ topic, partition, offset: String(tpo.offset) });
    if (!this.paused) this.resumePartition(topic, partition);
    this.log.info({ partition: key, offset: String(tpo.offset) }, 'partition adopted');
  }

  /** Rewinds (reopen, read the checkpoint, seek) with backoff until it works, the partition moves or the flow stops. */
  private async rewindUntilDone(slot: Slot, topic: string, partition: number, failedFrom: string | undefined, why: string): Promise<void> {
    for (let attempt = 1; !this.stopping && this.slots.get(`${topic}/${partition}`) === slot; attempt++) {
      const delay = backoffDelay(slot.failures + attempt - 1, { baseDelayMs: 200, maxDelayMs: this.o.config.maxBackoffMs });
      await sleep(Math.max(delay, 100), this.stopController.signal);
      try {
        await this.rewind(slot, topic, partition, failedFrom);
        return;
      } catch (err) {
        if (slot.status.state === 'retrying') slot.status.reason = `${why}; rewinding: ${(err as Error).message}`;
        this.log.warn({ partition: slot.copier.key, err: (err as Error).message, attempt }, 'rewind failed; retrying it');
      }
    }
  }

  /** Pauses fetching one partition (no-op once it is no longer assigned). */
  private pausePartition(topic: string, partition: number): void {
    try {
      this.consumer?.pause([{ topic, partitions: [partition] }]);
    } catch (err) {
      this.log.debug({ err: (err as Error).message, topic, partition }, 'could not pause a partition');
    }
  }

  private resumePartition(topic: string, partition: number): void {
    try {
      this.consumer?.resume([{ topic, partitions: [partition] }]);
    } catch (err) {
      this.log.debug({ err: (err as Error).message, topic, partition }, 'could not resume a partition');
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
    await this.rewindUntilDone(slot, topic, partition, undefined, 'reclaiming after fencing');
    if (this.stopping || this.slots.get(`${topic}/${partition}`) !== slot) return;
    slot.status.state = 'idle';
    slot.status.reason = undefined;
    slot.backpressured = false;
    if (!this.paused) this.resumePartition(topic, partition);
  }

  /**
   * Reopens the copier (re-initialising the transactional id settles any transaction whose
   * commit outcome we did not see) and seeks to the checkpoint that is really committed.
   */
  private async rewind(slot: Slot, topic: string, partition: number, failedFrom: string | undefined): Promise<void> {
    await slot.copier.close();
    await slot.copier.open();
    const next = (await this.readCheckpoints([{ topic, partition }])).get(`${topic}/${partition}`);
    slot.status.nextSourceOffset = next;
    slot.lane.reset(next, failedFrom);
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
