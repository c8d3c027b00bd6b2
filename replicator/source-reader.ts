/**
 * Fetches the source partitions a flow was given, with no consumer group of its own: the flow
 * owns the assignment (it comes from the checkpoint group on the target cluster, whose
 * generation fences the transactions). librdkafka's plain consumer, driven by one fetch loop
 * that hands each partition's records over as a batch; the KafkaJS-compatible consumer cannot
 * be assigned partitions by hand.
 */
import { createRequire } from 'node:module';
import type { KafkaConsumer, Message } from '@confluentinc/kafka-javascript';
import { GeoError } from '../core/errors.ts';
import { bindingError, bindingErrorListener } from '../core/kafka.ts';
import type { Logger } from '../core/logger.ts';

/**
 * A fetched record as the binding hands it over, untouched: converting every record into
 * another shape (and its headers into an object and back) cost more CPU than copying it.
 * Offsets are numbers, as the binding gives them (exact up to 2^53).
 */
export type SourceRecord = Pick<Message, 'value' | 'key' | 'offset' | 'timestamp' | 'headers' | 'size'>;

export interface SourceBatch {
  topic: string;
  partition: number;
  messages: SourceRecord[];
  /** The partition's high watermark as the last fetch saw it (undefined: not known yet). */
  highWatermark: string | undefined;
}

export interface SourceReaderOptions {
  bootstrap: readonly string[];
  clientId: string;
  /** Only names the client to the brokers: the reader never joins or commits for it. */
  groupId: string;
  /** At most this many records per fetch call. */
  maxRecords: number;
  /** fetch.min.bytes and fetch.wait.max.ms of the source consumer (replication.fetchMinBytes / fetchMaxWaitMs). */
  fetchMinBytes: number;
  fetchMaxWaitMs: number;
  log: Logger;
  onBatch: (batch: SourceBatch) => void;
}

export interface SourcePosition {
  topic: string;
  partition: number;
  /** The next offset to fetch; undefined: the partition's beginning. */
  offset: string | undefined;
}

// The binding is CommonJS and Node's ESM loader cannot see its KafkaConsumer export by name.
const { KafkaConsumer: PlainKafkaConsumer } = createRequire(import.meta.url)('@confluentinc/kafka-javascript') as { KafkaConsumer: typeof KafkaConsumer };

/** Methods the binding has and its type declarations lack. */
type PlainConsumer = KafkaConsumer & {
  incrementalAssign(tps: Array<{ topic: string; partition: number; offset?: number }>): void;
  incrementalUnassign(tps: Array<{ topic: string; partition: number }>): void;
  setDefaultIsTimeoutOnlyForFirstMessage(only: boolean): void;
};

/** librdkafka's logical offset "beginning". */
const BEGINNING = -2;
/** How long one fetch call waits for a first record: also how soon a stop is noticed. */
const FETCH_WAIT_MS = 100;

export class SourceReader {
  private readonly o: SourceReaderOptions;
  private consumer: PlainConsumer | undefined;
  private fetching: Promise<void> | undefined;
  private stopping = false;
  /**
   * Position changes (assign, unassign, seek), counted. A fetch call in flight when a
   * partition's position changed may return its records from before the change: librdkafka's
   * version barrier filters only what is consumed after it. Those are dropped here, so every
   * record handed over was fetched from the position last asked for.
   */
  private changes = 0;
  private readonly changedAt = new Map<string, number>();
  /** By partition: the position last asked for (assign or seek), to fetch again from after a drop. */
  private readonly requested = new Map<string, number>();
  /**
   * Seeks not applied yet, by partition (the latest wins). The binding runs a seek on the
   * thread pool, so librdkafka's barrier is up only once its callback came: the fetch loop
   * applies them itself, between two fetch calls, and issues the next one only after.
   */
  private readonly pendingSeeks = new Map<string, { topic: string; partition: number; offset: number }>();

  constructor(o: SourceReaderOptions) {
    this.o = o;
  }

  async connect(): Promise<void> {
    const consumer = new PlainKafkaConsumer(this.settings()) as PlainConsumer;
    consumer.on('event.error', bindingErrorListener(this.o.log, 'source consumer error'));
    // An offset reset moves a partition's position behind the flow's back: always worth a line.
    consumer.on('event.log', (e: { severity?: number; fac?: string; message?: string }) => {
      if (e.fac === 'OFFSET') this.o.log.warn({ librdkafka: e.message }, 'source position reset by the client');
    });
    await new Promise<void>((resolve, reject) => consumer.connect({ timeout: 10_000 }, (err) => (err ? reject(bindingError(err)) : resolve())));
    consumer.setDefaultConsumeTimeout(FETCH_WAIT_MS);
    consumer.setDefaultIsTimeoutOnlyForFirstMessage(true);
    this.consumer = consumer;
    this.fetching = this.fetchLoop(consumer);
  }

  /** The consumer's librdkafka settings (a method, so that the benchmarks can override some). */
  settings(): Record<string, string | number | boolean> {
    return {
      'bootstrap.servers': this.o.bootstrap.join(','),
      'client.id': this.o.clientId,
      'group.id': this.o.groupId,
      'isolation.level': 'read_committed',
      'enable.auto.commit': false,
      'enable.auto.offset.store': false,
      'enable.partition.eof': false,
      // When a position is not on the broker (deleted by retention, or a leader's log truncated
      // under it), go back, never forward: librdkafka's default jumps to the end and skips
      // records silently. The lanes drop what they already took, so going back costs a re-read.
      'auto.offset.reset': 'earliest',
      'fetch.max.bytes': 64 * 1024 * 1024,
      'max.partition.fetch.bytes': 8 * 1024 * 1024,
      'queued.max.messages.kbytes': 262_144,
      'fetch.min.bytes': this.o.fetchMinBytes,
      'fetch.wait.max.ms': this.o.fetchMaxWaitMs,
    };
  }

  /** Starts fetching these partitions from their positions (in addition to what is assigned). */
  assign(positions: readonly SourcePosition[]): void {
    if (positions.length === 0) return;
    const tps = positions.map((p) => ({ topic: p.topic, partition: p.partition, offset: p.offset === undefined ? BEGINNING : Number(p.offset) }));
    this.client().incrementalAssign(tps);
    for (const tp of tps) this.changed(tp, tp.offset);
  }

  /** Stops fetching these partitions; records of theirs from a fetch call already in flight are dropped here. */
  unassign(tps: ReadonlyArray<{ topic: string; partition: number }>): void {
    if (tps.length === 0 || !this.consumer) return;
    this.consumer.incrementalUnassign(tps.map((tp) => ({ topic: tp.topic, partition: tp.partition })));
    for (const tp of tps) {
      this.changed(tp, undefined);
      this.pendingSeeks.delete(`${tp.topic}/${tp.partition}`);
    }
  }

  pause(tps: ReadonlyArray<{ topic: string; partition: number }>): void {
    this.guard(() => this.consumer?.pause(tps.map((tp) => ({ topic: tp.topic, partition: tp.partition }))), 'pause', tps);
  }

  resume(tps: ReadonlyArray<{ topic: string; partition: number }>): void {
    this.guard(() => this.consumer?.resume(tps.map((tp) => ({ topic: tp.topic, partition: tp.partition }))), 'resume', tps);
  }

  /**
   * Fetches the partition from `offset` next (undefined: its beginning). Applied by the fetch
   * loop before its next fetch call; whatever the call in flight returns for the partition is
   * dropped.
   */
  seek(topic: string, partition: number, offset: string | undefined): void {
    if (!this.consumer) return;
    const to = offset === undefined ? BEGINNING : Number(offset);
    this.changed({ topic, partition }, to);
    this.pendingSeeks.set(`${topic}/${partition}`, { topic, partition, offset: to });
  }

  /** The partition's log start offset on the source (what retention has not deleted yet). */
  lowWatermark(topic: string, partition: number, timeoutMs: number): Promise<number> {
    const c = this.client();
    return new Promise((resolve, reject) => {
      c.queryWatermarkOffsets(topic, partition, timeoutMs, (err, w) => {
        if (err) reject(bindingError(err));
        else resolve(w.lowOffset);
      });
    });
  }

  private changed(tp: { topic: string; partition: number }, to: number | undefined): void {
    const k = `${tp.topic}/${tp.partition}`;
    this.changedAt.set(k, ++this.changes);
    if (to === undefined) this.requested.delete(k);
    else this.requested.set(k, to);
  }

  assigned(): Array<{ topic: string; partition: number }> {
    return this.consumer?.assignments().map((a) => ({ topic: a.topic, partition: a.partition })) ?? [];
  }

  async close(): Promise<void> {
    this.stopping = true;
    const c = this.consumer;
    this.consumer = undefined;
    await this.fetching?.catch(() => undefined);
    if (c) await new Promise<void>((resolve) => c.disconnect(() => resolve()));
  }

  private client(): PlainConsumer {
    if (!this.consumer) throw new GeoError('KAFKA_UNAVAILABLE', `the source consumer of ${this.o.clientId} is not connected`);
    return this.consumer;
  }

  private guard(fn: () => unknown, what: string, tps: ReadonlyArray<{ topic: string; partition: number }>): void {
    try {
      fn();
    } catch (err) {
      // A partition no longer assigned cannot be paused or resumed: nothing to do.
      this.o.log.debug({ err: (err as Error).message, what, tps }, 'source consumer call ignored');
    }
  }

  private async fetchLoop(consumer: KafkaConsumer): Promise<void> {
    while (!this.stopping) {
      let messages: Message[];
      await this.applySeeks(consumer);
      const issuedAt = this.changes;
      try {
        messages = await new Promise<Message[]>((resolve, reject) => consumer.consume(this.o.maxRecords, (err, ms) => (err ? reject(bindingError(err)) : resolve(ms))));
      } catch (err) {
        if (this.stopping) return;
        this.o.log.warn({ err: (err as Error).message }, 'source fetch failed; fetching on');
        await new Promise((r) => setTimeout(r, FETCH_WAIT_MS));
        continue;
      }
      if (messages.length > 0 && !this.stopping) this.handOver(consumer, messages, issuedAt);
    }
  }

  /** Applies the pending seeks, each once its callback came (the barrier is up then), until none is left. */
  private async applySeeks(consumer: KafkaConsumer): Promise<void> {
    while (this.pendingSeeks.size > 0 && !this.stopping) {
      const seeks = [...this.pendingSeeks.values()];
      this.pendingSeeks.clear();
      await Promise.all(
        seeks.map(
          (tp) =>
            new Promise<void>((resolve) => {
              try {
                consumer.seek(tp, 0, (err) => {
                  // Unassigned meanwhile, typically: nothing to fetch there any more.
                  if (err) this.o.log.warn({ err: err.message, partition: `${tp.topic}/${tp.partition}`, offset: tp.offset }, 'source seek failed');
                  resolve();
                });
              } catch (err) {
                this.o.log.warn({ err: (err as Error).message, partition: `${tp.topic}/${tp.partition}` }, 'source seek failed');
                resolve();
              }
            }),
        ),
      );
    }
  }

  /** Groups a fetch by partition (in fetch order) and hands each run over, but not a partition's whose position changed while the fetch was in flight. */
  private handOver(consumer: KafkaConsumer, messages: Message[], issuedAt: number): void {
    const byPartition = new Map<string, SourceBatch>();
    for (const m of messages) {
      const key = `${m.topic}/${m.partition}`;
      let b = byPartition.get(key);
      if (!b) {
        b = { topic: m.topic, partition: m.partition, messages: [], highWatermark: undefined };
        byPartition.set(key, b);
      }
      b.messages.push(m);
    }
    for (const [k, b] of byPartition) {
      if ((this.changedAt.get(k) ?? 0) > issuedAt) {
        // Some of these may come from before the change, and after an assignment the fetch
        // position may have moved past all of them: fetch again from where the change asked
        // for (a seek already pending does; nothing when unassigned).
        const to = this.requested.get(k);
        this.o.log.debug({ partition: k, records: b.messages.length, fetchAgainFrom: to }, 'dropped records fetched across a position change');
        if (to !== undefined && !this.pendingSeeks.has(k)) this.pendingSeeks.set(k, { topic: b.topic, partition: b.partition, offset: to });
        continue;
      }
      try {
        const w = consumer.getWatermarkOffsets(b.topic, b.partition);
        if (typeof w.highOffset === 'number' && w.highOffset >= 0) b.highWatermark = String(w.highOffset);
      } catch {
        // Not known yet.
      }
      this.o.onBatch(b);
    }
  }
}
