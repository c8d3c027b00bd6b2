/**
 * The copier's producer: librdkafka's producer through the binding's own API, not the
 * KafkaJS-compatible one. Copying is the replicator's hot path, and the compatible `send`
 * costs per record a promise, a closure, a persistent handle for its opaque, a header
 * conversion and a metadata object, which profiles showed as a third of the process's CPU
 * (docs/BENCHMARKS.md). Here a record is one native call with no opaque, and one delivery
 * handler keeps, per target partition, the lowest offset written and the first error.
 *
 * One copy at a time: `track()` starts counting deliveries for the next one.
 */
import { createRequire } from 'node:module';
import type { KafkaConsumer, LibrdKafkaError, MessageHeader, Producer as BindingProducer } from '@confluentinc/kafka-javascript';
import { GeoError } from '../core/errors.ts';
import { bindingError, bindingErrorListener, kafkaError } from '../core/kafka.ts';
import type { Logger } from '../core/logger.ts';
import { sleep } from '../core/retry.ts';

// The binding is CommonJS and Node's ESM loader cannot see its Producer export by name.
const { Producer: PlainProducer } = createRequire(import.meta.url)('@confluentinc/kafka-javascript') as { Producer: new (conf: Record<string, unknown>) => BindingProducer };

/** Methods the binding has and its type declarations lack or type too narrowly. */
type PlainProducerApi = BindingProducer & {
  setPollInBackground(on: boolean): void;
  produce(topic: string, partition: number, value: Buffer | null, key: Buffer | string | null | undefined, timestamp: number | undefined, opaque: undefined, headers: MessageHeader[] | undefined): boolean;
  sendOffsetsToTransaction(offsets: Array<{ topic: string; partition: number; offset: number; metadata?: string }>, consumer: KafkaConsumer, timeout: number, cb: (err: LibrdKafkaError | null) => void): void;
};

interface DeliveryReport {
  topic: string;
  partition: number;
  offset: number;
}

/** What one copy's deliveries reported, per target partition (`<topic>/<partition>`). */
export interface Deliveries {
  /** Lowest offset written, per partition. */
  firstOffset: Map<string, number>;
  /** The first refusal, with the partition it came from. */
  error: { key: string; error: Error } | undefined;
  /** Records refused in all. */
  refused: number;
}

export interface CopyProducerOptions {
  bootstrap: readonly string[];
  clientId: string;
  /** Set: a transactional producer (initialised on open). */
  transactionalId: string | undefined;
  transactionTimeoutMs: number;
  /** librdkafka settings on top of the defaults (linger, batch size, compression...). */
  settings: Readonly<Record<string, string | number | boolean>>;
  /** Called for every record the cluster refuses (besides the current copy's `Deliveries`). */
  onRefused?: (err: Error, key: string) => void;
  log: Logger;
}

/** librdkafka's "queue full": the producer holds queue.buffering.max.messages already. */
const QUEUE_FULL = -184;
const INIT_TIMEOUT_MS = 30_000;

export class CopyProducer {
  private readonly p: PlainProducerApi;
  private pending = 0;
  private current: Deliveries = newDeliveries();
  private settled: (() => void) | undefined;
  private closed = false;
  /** Transactional calls librdkafka is still working on (settled either way when they leave). */
  private readonly inFlight = new Set<Promise<unknown>>();

  private constructor(
    p: PlainProducerApi,
    private readonly onRefused: ((err: Error, key: string) => void) | undefined,
    private readonly clientId: string,
  ) {
    this.p = p;
  }

  /** Connects, and initialises the transactional id when there is one (which fences its previous producers). */
  static async open(o: CopyProducerOptions): Promise<CopyProducer> {
    const p = new PlainProducer({
      'bootstrap.servers': o.bootstrap.join(','),
      'client.id': o.clientId,
      'enable.idempotence': true,
      acks: 'all',
      ...(o.transactionalId !== undefined ? { 'transactional.id': o.transactionalId, 'transaction.timeout.ms': o.transactionTimeoutMs } : {}),
      ...o.settings,
      dr_cb: true,
    }) as PlainProducerApi;
    const self = new CopyProducer(p, o.onRefused, o.clientId);
    p.on('event.error', bindingErrorListener(o.log, 'copy producer error'));
    p.on('delivery-report', (err: LibrdKafkaError | null, report: DeliveryReport) => self.onDelivery(err, report));
    try {
      await new Promise<void>((resolve, reject) => p.connect({ timeout: INIT_TIMEOUT_MS }, (err) => (err ? reject(bindingError(err)) : resolve())));
      p.setPollInBackground(true);
      if (o.transactionalId !== undefined) await self.call((cb) => p.initTransactions(INIT_TIMEOUT_MS, cb));
    } catch (err) {
      // A producer whose initialisation timed out goes on trying in the background: left
      // alive, it would fence the next one opened with the same transactional id.
      await self.close(5_000);
      throw err;
    }
    return self;
  }

  /**
   * Starts counting deliveries for a new copy, once the previous one's are all in: librdkafka
   * reports every record it was given (delivered, refused, purged by an abort, or timed out
   * after message.timeout.ms), so this wait is bounded.
   */
  async track(): Promise<void> {
    if (this.pending > 0) await this.delivered();
    this.current = newDeliveries();
  }

  /**
   * Queues one record; its delivery is counted in the current copy. False when librdkafka's
   * queue is full (a copy larger than queue.buffering.max.messages): wait for `room()` and
   * try again. Refusals throw.
   */
  tryProduce(topic: string, partition: number, value: Buffer | null, key: Buffer | string | null | undefined, timestamp: number | undefined, headers: MessageHeader[] | undefined): boolean {
    if (this.closed) throw this.closedError();
    try {
      this.p.produce(topic, partition, value, key, timestamp, undefined, headers);
      this.pending++;
      return true;
    } catch (err) {
      if ((err as { code?: unknown }).code === QUEUE_FULL && !this.closed) return false;
      throw bindingError(err);
    }
  }

  /** A moment for deliveries to make room in a full queue. */
  room(): Promise<void> {
    return sleep(5);
  }

  /** Resolves once every record queued since `track()` has a delivery report. */
  async delivered(): Promise<Deliveries> {
    if (this.pending > 0) await new Promise<void>((resolve) => (this.settled = resolve));
    return this.current;
  }

  begin(): Promise<void> {
    return this.call((cb) => this.p.beginTransaction(cb));
  }

  sendOffsets(offsets: Array<{ topic: string; partition: number; offset: number; metadata?: string }>, consumer: KafkaConsumer, timeoutMs: number): Promise<void> {
    return this.call((cb) => this.p.sendOffsetsToTransaction(offsets, consumer, timeoutMs, cb));
  }

  commit(timeoutMs: number): Promise<void> {
    return this.call((cb) => this.p.commitTransaction(timeoutMs, cb));
  }

  abort(timeoutMs: number): Promise<void> {
    return this.call((cb) => this.p.abortTransaction(timeoutMs, cb));
  }

  /**
   * Disconnects, waiting at most `waitMs`: the disconnect of a producer stuck in a transaction
   * can block for minutes inside librdkafka. It goes on in the background; the next producer
   * opened with the same transactional id fences it. Returns whether it finished in time.
   */
  async close(waitMs: number): Promise<boolean> {
    if (this.closed) return true;
    this.closed = true;
    // Whoever waits for deliveries must not wait forever for reports that will never come.
    this.settled?.();
    let timer: NodeJS.Timeout | undefined;
    // Not while a transactional call is inside librdkafka: a commit or abort queues more
    // operations as it goes, and one queued after the destroy began aborts the whole process
    // ("rd_kafka_txn_op_req0: rk_ops queue disabled", seen in CI on 2026-12-06 when a region's
    // brokers went down mid-copy). Every such call has its own timeout, so this wait is bounded.
    const done = Promise.all(this.inFlight).then(() => new Promise<boolean>((resolve) => this.p.disconnect(() => resolve(true))));
    try {
      return await Promise.race([done, new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), waitMs)))]);
    } finally {
      clearTimeout(timer);
    }
  }

  private onDelivery(err: LibrdKafkaError | null, report: DeliveryReport): void {
    const key = `${report.topic}/${report.partition}`;
    const d = this.current;
    if (err) {
      const e = bindingError(err);
      d.error ??= { key, error: e };
      d.refused++;
      this.onRefused?.(e, key);
    } else {
      const first = d.firstOffset.get(key);
      if (first === undefined || report.offset < first) d.firstOffset.set(key, report.offset);
    }
    if (--this.pending <= 0) {
      this.pending = 0;
      const settled = this.settled;
      this.settled = undefined;
      settled?.();
    }
  }

  /** A transactional call; refused once close() began, so that nothing reaches a producer being destroyed. */
  private call(fn: (cb: (err: LibrdKafkaError | null | undefined) => void) => void): Promise<void> {
    if (this.closed) return Promise.reject(this.closedError());
    const result = new Promise<void>((resolve, reject) => {
      try {
        fn((err) => (err ? reject(bindingError(err)) : resolve()));
      } catch (err) {
        // The binding throws synchronously when the producer is not connected.
        reject(kafkaError(err, 'copy producer'));
      }
    });
    const settled: Promise<unknown> = result.then(
      (): boolean => this.inFlight.delete(settled),
      (): boolean => this.inFlight.delete(settled),
    );
    this.inFlight.add(settled);
    return result;
  }

  private closedError(): GeoError {
    return new GeoError('KAFKA_UNAVAILABLE', `the copy producer ${this.clientId} is closed; the copy goes again through the next one`);
  }
}

function newDeliveries(): Deliveries {
  return { firstOffset: new Map(), error: undefined, refused: 0 };
}
