/**
 * The region's indexer: consumes (read_committed) the local `documents` topic and the copies of
 * every other region's (`<region>.documents`), and applies each event to the region's OpenSearch
 * index with its external version. See ./README.md for the guarantees and the tombstone design.
 *
 * Flow: records are decoded as they arrive; poison records go to the dead-letter topic; events
 * go into one of `concurrency` lanes (chosen by document id, so two events of one id are always
 * written in arrival order) and each lane flushes one bulk at a time, by bytes or by time.
 * Offsets are committed explicitly, per partition, only up to the last record before which
 * every record is applied (indexed, stale or dead-lettered). While OpenSearch keeps failing, or
 * the lanes hold too much, consumption is paused; nothing is skipped.
 */
import { randomUUID } from 'node:crypto';
import { Client } from '@opensearch-project/opensearch';
import type { KafkaJS } from '@confluentinc/kafka-javascript';
import type { Deployment } from '../../config/schema.ts';
import { GeoError } from '../../core/errors.ts';
import type { Consumer, KafkaClient } from '../../core/kafka.ts';
import { BATCHED_FETCH, disconnectConsumer, kafkaClient, kafkaError } from '../../core/kafka.ts';
import type { Logger } from '../../core/logger.ts';
import type { RetryPolicy } from '../../core/retry.ts';
import { backoffDelay, sleep } from '../../core/retry.ts';
import { FreshnessTracker } from '../../replicator/heartbeats.ts';
import { decodeEvent } from '../events/document-event.ts';
import type { BulkItem } from './bulk-writer.ts';
import { BulkWriter, bulkItem } from './bulk-writer.ts';
import type { DeadLetter, SourceRecord } from './dead-letter.ts';
import { DeadLetterWriter } from './dead-letter.ts';
import type { SourceFreshness } from './freshness.ts';
import { IndexFreshness } from './freshness.ts';
import { ensureIndex } from './index-setup.ts';
import { IndexerMetrics } from './metrics.ts';
import type { Coordinates } from './offset-tracker.ts';
import { OffsetTracker } from './offset-tracker.ts';

export interface IndexerOptions {
  deployment: Readonly<Deployment>;
  region: string;
  log: Logger;
  /** Topic names; the deployment's `topics` by default. Copies are `<region>.<documents>`. */
  topics?: { documents?: string; heartbeats?: string };
  /** The alias searches use; the index behind it is `<index>-v1`. Default "documents". */
  index?: string;
  /** Default: the deployment's `topics.deadLetter`. */
  deadLetterTopic?: string;
  /** Default: "georeplica-indexer-<region>". */
  groupId?: string;
  /** The region's OpenSearch URL by default. */
  searchUrl?: string;
  /** Flush a lane once it holds this many bytes of bulk body. Default 5 MiB. */
  flushBytes?: number;
  /** Flush every lane at least this often. Default 200 ms. */
  flushIntervalMs?: number;
  /** Bulk requests in flight at once (lanes). Default 2. */
  concurrency?: number;
  /** Per bulk, before consumption is paused and the bulk retried until it succeeds. */
  retry?: RetryPolicy;
  /** How long stop() keeps trying to write and commit what it holds. Default 15 s. */
  drainTimeoutMs?: number;
  metrics?: IndexerMetrics;
}

export type IndexerState = 'created' | 'starting' | 'running' | 'stopping' | 'stopped' | 'failed';

export interface IndexerStatus {
  region: string;
  state: IndexerState;
  alias: string;
  index: string | undefined;
  groupId: string;
  topics: string[];
  subscribed: string[];
  /** Why consumption is paused, if it is: "search-unavailable", "backpressure". */
  paused: string[];
  counts: { indexed: number; stale: number; deadLettered: number };
  bufferedRecords: number;
  freshness: Record<string, SourceFreshness>;
  lastError: string | undefined;
}

interface Lane {
  items: BulkItem[];
  bytes: number;
  flushing: Promise<void> | undefined;
}

const DEFAULT_BULK_RETRY: RetryPolicy = Object.freeze({ attempts: 6, baseDelayMs: 100, maxDelayMs: 2_000 });

export class Indexer {
  readonly metrics: IndexerMetrics;
  private readonly log: Logger;
  private readonly region: string;
  private readonly alias: string;
  private readonly groupId: string;
  private readonly sourceTopics: Map<string, string>; // topic → source region
  private readonly kafka: KafkaClient;
  private readonly search: Client;
  private readonly tracker = new OffsetTracker();
  private readonly heartbeats: FreshnessTracker;
  private readonly freshness: IndexFreshness;
  private readonly deadLetters: DeadLetterWriter;
  private readonly writer: BulkWriter;
  private readonly lanes: Lane[];
  private readonly flushBytes: number;
  private readonly flushIntervalMs: number;
  private readonly retry: RetryPolicy;
  private readonly drainTimeoutMs: number;
  /** Aborted when stop() gives up draining: retries end, nothing more is committed. */
  private readonly hardStop = new AbortController();
  /** Aborted when stop() begins: no new records are taken. */
  private readonly stopping = new AbortController();
  private consumer: Consumer | undefined;
  private index: string | undefined;
  private state: IndexerState = 'created';
  private subscribed: string[] = [];
  private readonly pauseReasons = new Set<string>();
  private running: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private handling: Promise<void> = Promise.resolve();
  private committing: Promise<void> = Promise.resolve();
  private readonly counts = { indexed: 0, stale: 0, deadLettered: 0 };
  private lastError: string | undefined;
  /** Lanes whose bulk is being retried after the retry policy gave up once. */
  private outageLanes = 0;

  constructor(o: IndexerOptions) {
    const region = o.deployment.regions[o.region];
    if (!region) throw new GeoError('UNKNOWN_REGION', `Unknown region "${o.region}". Valid regions: ${Object.keys(o.deployment.regions).join(', ')}.`);
    this.region = o.region;
    this.log = o.log.child({ component: 'indexer', region: o.region });
    this.metrics = o.metrics ?? new IndexerMetrics();
    this.alias = o.index ?? 'documents';
    this.groupId = o.groupId ?? `georeplica-indexer-${o.region}`;
    const documents = o.topics?.documents ?? o.deployment.topics.documents;
    const heartbeats = o.topics?.heartbeats ?? o.deployment.topics.heartbeats;
    const others = Object.keys(o.deployment.regions).filter((r) => r !== o.region).sort();
    this.sourceTopics = new Map([[documents, o.region], ...others.map((r): [string, string] => [`${r}.${documents}`, r])]);
    this.kafka = kafkaClient({ bootstrap: region.kafka.bootstrap, clientId: `georeplica-indexer-${o.region}`, log: this.log });
    this.search = new Client({ node: o.searchUrl ?? region.search.url, requestTimeout: 30_000 });
    this.heartbeats = new FreshnessTracker({ kafka: this.kafka, topics: others.map((r) => `${r}.${heartbeats}`), groupId: `${this.groupId}-heartbeats-${randomUUID().slice(0, 8)}`, log: this.log });
    this.freshness = new IndexFreshness({ region: o.region, sources: [o.region, ...others], heartbeatAgeMs: () => this.heartbeats.freshnessMs(), paused: () => this.pauseReasons.size > 0 });
    this.deadLetters = new DeadLetterWriter({ kafka: this.kafka, topic: o.deadLetterTopic ?? o.deployment.topics.deadLetter, region: o.region });
    this.flushBytes = o.flushBytes ?? 5 * 1024 * 1024;
    this.flushIntervalMs = o.flushIntervalMs ?? 200;
    this.retry = o.retry ?? DEFAULT_BULK_RETRY;
    this.drainTimeoutMs = o.drainTimeoutMs ?? 15_000;
    this.writer = new BulkWriter({ client: this.search, retry: this.retry, metrics: this.metrics, log: this.log, signal: this.hardStop.signal });
    this.lanes = Array.from({ length: Math.max(1, o.concurrency ?? 2) }, () => ({ items: [], bytes: 0, flushing: undefined }));
    // Computed when scraped, so the value is never older than the scrape.
    this.metrics.freshnessSource = () => Object.fromEntries(Object.entries(this.freshness.snapshot()).flatMap(([source, f]) => (f.freshnessMs === null ? [] : [[source, f.freshnessMs / 1000]])));
  }

  /** Starts in the background: index setup (retried while OpenSearch is unreachable), then consumption. */
  start(): void {
    if (this.running) return;
    this.state = 'starting';
    this.running = this.run().catch((err: unknown) => {
      this.state = 'failed';
      this.lastError = (err as Error).message;
      this.log.error({ err: (err as Error).message }, 'indexer failed');
    });
  }

  /** Resolves once the indexer is consuming (or failed/stopped). For tests and readiness. */
  async ready(timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.state === 'starting' || this.state === 'created') {
      if (Date.now() > deadline) throw new GeoError('TIMEOUT', `indexer ${this.region} not ready after ${timeoutMs} ms`);
      await sleep(50);
    }
    if (this.state === 'failed') throw new GeoError('INTERNAL', `indexer ${this.region} failed: ${this.lastError ?? ''}`);
  }

  /**
   * Drains: stops taking records, writes what it holds and commits it, then disconnects. When
   * that takes longer than `drainTimeoutMs` (OpenSearch down), it gives up without committing
   * what was not written: those records are read again by the next owner of the partitions.
   */
  async stop(): Promise<void> {
    if (this.state === 'stopped') return;
    this.state = 'stopping';
    this.stopping.abort();
    const force = setTimeout(() => this.hardStop.abort(), this.drainTimeoutMs);
    try {
      this.pauseAll();
      await this.running;
      await this.handling;
      await this.flushAll(true);
      await this.commit();
      await this.committing;
    } finally {
      clearTimeout(force);
      this.hardStop.abort();
      if (this.timer) clearInterval(this.timer);
      if (this.consumer) await disconnectConsumer(this.consumer, this.drainTimeoutMs, this.log);
      await this.heartbeats.stop().catch(() => undefined);
      await this.deadLetters.close();
      await this.search.close().catch(() => undefined);
      this.state = 'stopped';
    }
  }

  status(): IndexerStatus {
    return {
      region: this.region,
      state: this.state,
      alias: this.alias,
      index: this.index,
      groupId: this.groupId,
      topics: [...this.sourceTopics.keys()],
      subscribed: [...this.subscribed],
      paused: [...this.pauseReasons],
      counts: { ...this.counts },
      bufferedRecords: this.lanes.reduce((n, l) => n + l.items.length, 0),
      freshness: this.freshness.snapshot(),
      lastError: this.lastError,
    };
  }

  // -------------------------------------------------------------------------------------------

  private async run(): Promise<void> {
    const signal = this.stopping.signal;
    for (let attempt = 1; !signal.aborted; attempt++) {
      try {
        this.index = await ensureIndex(this.search, this.alias);
        await this.deadLetters.ensureTopic();
        break;
      } catch (err) {
        this.lastError = (err as Error).message;
        this.log.warn({ err: this.lastError, attempt }, 'index setup failed; retrying');
        await sleep(backoffDelay(attempt, { baseDelayMs: 200, maxDelayMs: 5_000 }), signal);
      }
    }
    if (signal.aborted) return;
    this.heartbeats.start();
    this.timer = setInterval(() => void this.flushAll(false), this.flushIntervalMs);
    this.timer.unref();
    // Subscribes to the source topics that exist, and again whenever another appears.
    while (!signal.aborted) {
      try {
        await this.subscribeExisting();
        if (this.state === 'starting' && this.subscribed.length > 0) this.state = 'running';
      } catch (err) {
        this.lastError = (err as Error).message;
        this.log.warn({ err: this.lastError }, 'subscription failed; retrying');
      }
      await sleep(this.subscribed.length === this.sourceTopics.size ? 10_000 : 1_000, signal);
    }
  }

  private async subscribeExisting(): Promise<void> {
    const admin = this.kafka.admin();
    let existing: string[];
    try {
      await admin.connect();
      existing = await admin.listTopics({ timeout: 5_000 });
    } catch (err) {
      throw kafkaError(err, 'listing topics');
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
    const topics = [...this.sourceTopics.keys()].filter((t) => existing.includes(t)).sort();
    if (topics.length === 0 || topics.join() === this.subscribed.join() || this.stopping.signal.aborted) return;
    if (!this.consumer) {
      const c = this.kafka.consumer({
        'isolation.level': 'read_committed',
        'topic.metadata.refresh.interval.ms': 2_000,
        'js.consumer.max.batch.size': 1_000,
        // Cooperative: a subscription that grows (a copy topic appears) only adds partitions. With
        // the eager default it revokes everything and assigns it again, and kafka-javascript
        // 1.10.1 applies the revoke's unassign later than an assign that follows at once, which
        // then left the consumer with nothing assigned for good (seen in CI and reproduced).
        'partition.assignment.strategy': 'cooperative-sticky',
        ...BATCHED_FETCH,
        kafkaJS: { groupId: this.groupId, fromBeginning: true, autoCommit: false },
      });
      await c.connect();
      this.consumer = c;
    }
    await this.consumer.subscribe({ topics, replace: true });
    const first = this.subscribed.length === 0;
    this.subscribed = topics;
    this.log.info({ topics }, 'subscribed');
    if (first) {
      await this.consumer.run({
        eachBatch: (payload) => {
          const p = this.handling.then(() => this.onBatch(payload));
          this.handling = p.catch(() => undefined);
          return p;
        },
      });
    }
  }

  private async onBatch({ batch }: KafkaJS.EachBatchPayload): Promise<void> {
    if (this.stopping.signal.aborted) return;
    const source = this.sourceTopics.get(batch.topic) ?? this.region;
    const poison: DeadLetter[] = [];
    for (const m of batch.messages) {
      const record: SourceRecord = { topic: batch.topic, partition: batch.partition, offset: m.offset, key: m.key, value: m.value, headers: m.headers ?? {} };
      if (!this.tracker.receive(record)) continue;
      const decoded = decodeEvent(m.value ?? Buffer.alloc(0));
      if (!decoded.ok) {
        poison.push({ record, code: decoded.code === 'EVENT_SCHEMA_UNSUPPORTED' ? 'unsupported_schema' : 'invalid_event', reason: decoded.reason });
        continue;
      }
      const item = bulkItem(decoded.event, record, this.alias);
      this.freshness.received(source, Date.parse(decoded.event.ts));
      const lane = this.lanes[laneOf(decoded.event.id, this.lanes.length)] as Lane;
      lane.items.push(item);
      lane.bytes += item.bytes;
      if (lane.bytes >= this.flushBytes) this.flushLane(lane, false);
    }
    let behind = false;
    try {
      behind = BigInt(batch.offsetLag()) > 0n;
    } catch {
      // offsetLag is best effort (unknown high watermark).
    }
    this.freshness.lag(source, batch.topic, batch.partition, behind);
    if (poison.length > 0) {
      await this.sendDeadLetters(poison);
      void this.commit();
    }
    const buffered = this.lanes.reduce((n, l) => n + l.bytes, 0);
    if (buffered >= this.flushBytes * this.lanes.length * 2) this.setPaused('backpressure', true);
    else if (this.pauseReasons.size > 0) this.pauseAll(); // partitions assigned since the pause
  }

  private flushAll(draining: boolean): Promise<void> {
    return Promise.all(
      this.lanes.map(async (lane) => {
        // While draining, wait for the lane's bulk in flight and flush what came after it.
        while (lane.flushing || (draining && lane.items.length > 0)) {
          if (lane.flushing) await lane.flushing;
          else this.flushLane(lane, true);
          if (this.hardStop.signal.aborted) return;
        }
        if (lane.items.length > 0) this.flushLane(lane, draining);
        await inFlight(lane);
      }),
    ).then(() => undefined);
  }

  private flushLane(lane: Lane, draining: boolean): void {
    if (lane.flushing || lane.items.length === 0) return;
    const items = lane.items;
    lane.items = [];
    lane.bytes = 0;
    lane.flushing = this.writeBulk(items)
      .catch((err: unknown) => {
        this.lastError = (err as Error).message;
        this.log.error({ err: this.lastError, records: items.length }, 'bulk abandoned (not committed; read again later)');
      })
      .finally(() => {
        lane.flushing = undefined;
        if (!draining && lane.bytes >= this.flushBytes) this.flushLane(lane, false);
        const buffered = this.lanes.reduce((n, l) => n + l.bytes, 0);
        if (buffered < this.flushBytes * this.lanes.length) this.setPaused('backpressure', false);
      });
  }

  /** Writes one bulk until it succeeds (pausing consumption meanwhile), dead-letters its refusals, then marks it applied. */
  private async writeBulk(items: BulkItem[]): Promise<void> {
    let outcomes;
    let inOutage = false;
    try {
      for (let round = 1; ; round++) {
        try {
          outcomes = await this.writer.write(items);
          break;
        } catch (err) {
          if (this.hardStop.signal.aborted) throw err;
          this.lastError = (err as Error).message;
          if (!inOutage) {
            inOutage = true;
            this.outageLanes++;
          }
          this.setPaused('search-unavailable', true);
          const delay = backoffDelay(round, { baseDelayMs: this.retry.baseDelayMs, maxDelayMs: this.retry.maxDelayMs });
          this.log.warn({ err: this.lastError, round, delay }, 'OpenSearch unavailable: consumption paused, retrying the bulk');
          await sleep(delay, this.hardStop.signal);
        }
      }
    } finally {
      if (inOutage && --this.outageLanes === 0) this.setPaused('search-unavailable', false);
    }
    const rejected: DeadLetter[] = [];
    outcomes.forEach((outcome, i) => {
      const item = items[i] as BulkItem;
      if (outcome.kind === 'rejected') rejected.push({ record: item.record, code: 'rejected', reason: outcome.reason });
    });
    if (rejected.length > 0) await this.sendDeadLetters(rejected);
    outcomes.forEach((outcome, i) => {
      const item = items[i] as BulkItem;
      const source = this.sourceTopics.get(item.record.topic) ?? this.region;
      if (outcome.kind === 'indexed' || outcome.kind === 'stale') {
        this.counts[outcome.kind]++;
        this.metrics.events.inc({ source, outcome: outcome.kind });
      }
      this.freshness.applied(source, outcome.kind === 'rejected' ? undefined : Date.parse(item.event.ts));
      this.tracker.done(item.record);
    });
    await this.commit();
  }

  /** Dead-letters records, retrying while Kafka is unavailable; marks them applied once written. */
  private async sendDeadLetters(letters: DeadLetter[]): Promise<void> {
    for (let round = 1; ; round++) {
      try {
        await this.deadLetters.send(letters);
        break;
      } catch (err) {
        if (this.hardStop.signal.aborted) throw err;
        this.lastError = (err as Error).message;
        this.log.warn({ err: this.lastError, round }, 'dead-letter write failed; retrying');
        await sleep(backoffDelay(round, { baseDelayMs: 200, maxDelayMs: 5_000 }), this.hardStop.signal);
      }
    }
    for (const l of letters) {
      this.counts.deadLettered++;
      this.metrics.deadLetters.inc({ reason: l.code });
      this.log.warn({ topic: l.record.topic, partition: l.record.partition, offset: l.record.offset, reason: l.code }, 'record dead-lettered');
      // A dead-lettered record is out of the index's way, but it counts as handled.
      this.tracker.done(l.record);
    }
  }

  /** Commits, one call at a time, every partition whose committable offset moved. */
  private commit(): Promise<void> {
    this.committing = this.committing.then(async () => {
      const consumer = this.consumer;
      if (!consumer || this.hardStop.signal.aborted) return;
      const commits: Coordinates[] = this.tracker.takeCommits();
      if (commits.length === 0) return;
      try {
        await consumer.commitOffsets(commits);
      } catch (err) {
        this.tracker.restore(commits);
        this.log.warn({ err: (err as Error).message }, 'offset commit failed; retried with the next one');
      }
    });
    return this.committing;
  }

  private setPaused(reason: string, paused: boolean): void {
    const had = this.pauseReasons.size > 0;
    if (paused) this.pauseReasons.add(reason);
    else this.pauseReasons.delete(reason);
    const has = this.pauseReasons.size > 0;
    this.metrics.paused.set(has ? 1 : 0);
    if (has && !had) this.pauseAll();
    if (!has && had && !this.stopping.signal.aborted) {
      this.log.info('consumption resumed');
      try {
        this.consumer?.resume(this.subscribed.map((topic) => ({ topic })));
      } catch (err) {
        this.log.warn({ err: (err as Error).message }, 'resume failed');
      }
    }
  }

  private pauseAll(): void {
    if (!this.consumer || this.subscribed.length === 0) return;
    try {
      if (this.consumer.assignment().length > 0) this.consumer.pause(this.subscribed.map((topic) => ({ topic })));
    } catch (err) {
      this.log.debug({ err: (err as Error).message }, 'pause failed');
    }
  }
}

/** The lane's bulk in flight (a function, so type narrowing does not assume it unchanged). */
function inFlight(lane: Lane): Promise<void> | undefined {
  return lane.flushing;
}

/** The lane of a document id: every event of one id goes through the same lane, in order. */
function laneOf(id: string, lanes: number): number {
  let h = 0;
  for (let i = 0; i < id.length; i++) h = (Math.imul(h, 31) + id.charCodeAt(i)) | 0;
  return Math.abs(h) % lanes;
}
