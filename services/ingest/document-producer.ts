/**
 * The ingest API's side of Kafka: one idempotent producer (acks=all) writing document events to
 * the region's documents topic, keyed by document id, and the topic itself, created when missing.
 *
 * Kafka being down must never stop the API from starting or answering: the producer is
 * connected lazily (after a cheap ApiVersions probe, because the client's own connect waits
 * 30 s for metadata when no broker answers) and every send has a deadline. Any failure to get an
 * acknowledgement in time is KAFKA_UNAVAILABLE (503 with Retry-After): the API answers 202 only
 * for events Kafka acknowledged. A 503 may still be followed by a late delivery of that event;
 * retrying a write of the same id is harmless (the retry's version is newer).
 */
import { GeoError } from '../../core/errors.ts';
import { kafkaError } from '../../core/kafka.ts';
import type { KafkaClient, Producer } from '../../core/kafka.ts';
import type { Logger } from '../../core/logger.ts';
import { probeKafka } from '../../core/kafka-reachability.ts';

export interface DocumentProducerSettings {
  /** librdkafka `message.timeout.ms`: how long a write may wait for Kafka before it is answered 503. Default 5000. */
  messageTimeoutMs?: number;
  /** Partitions of the documents topic when this API creates it. Default 6. */
  partitions?: number;
  /** librdkafka `linger.ms`: how long concurrent writes are gathered into one batch. Default 5. */
  lingerMs?: number;
}

export const DEFAULT_PRODUCER_SETTINGS: Readonly<Required<DocumentProducerSettings>> = Object.freeze({ messageTimeoutMs: 5_000, partitions: 6, lingerMs: 5 });

/** Where Kafka put an event. `offset` is decimal text, as Kafka clients give offsets. */
export interface Acknowledged {
  readonly partition: number;
  readonly offset: string;
}

export interface DocumentProducerOptions {
  kafka: KafkaClient;
  bootstrap: readonly string[];
  topic: string;
  region: string;
  log: Logger;
  settings?: DocumentProducerSettings;
}

export type ProducerState = 'idle' | 'connecting' | 'connected' | 'closed';

/** Kafka error codes that no retry can fix: these are 500s, every other failure to deliver is a 503. */
const PERMANENT_KAFKA_CODES = new Set([2 /* CORRUPT_MESSAGE */, 10 /* MESSAGE_TOO_LARGE */, 29 /* TOPIC_AUTHORIZATION_FAILED */, 87 /* INVALID_RECORD */]);
/** Added to librdkafka's own message timeout, so that its answer normally comes first. */
const DEADLINE_GRACE_MS = 1_000;
/** The reachability probe before connecting is kept shorter than a whole write's budget. */
const MAX_PROBE_MS = 2_000;
/** How long close() waits for a connect in progress. */
const CLOSE_CONNECT_WAIT_MS = 5_000;
const KAFKA_TOPIC_ALREADY_EXISTS = 36;

export class DocumentProducer {
  readonly topic: string;
  readonly settings: Readonly<Required<DocumentProducerSettings>>;
  private readonly log: Logger;
  private producer: Producer | undefined;
  private connecting: Promise<Producer> | undefined;
  private topicReady = false;
  private closed = false;

  constructor(private readonly o: DocumentProducerOptions) {
    this.topic = o.topic;
    this.settings = Object.freeze({ ...DEFAULT_PRODUCER_SETTINGS, ...definedOnly(o.settings ?? {}) });
    for (const [name, value] of Object.entries(this.settings)) {
      if (!Number.isSafeInteger(value) || value < (name === 'lingerMs' ? 0 : 1)) {
        throw new GeoError('INVALID_ARGUMENT', `Invalid ingest producer setting ${name}: got ${String(value)}; expected an integer ≥ ${name === 'lingerMs' ? 0 : 1}.`, { details: { field: name, value } });
      }
    }
    this.log = o.log.child({ component: 'document-producer', topic: o.topic });
  }

  get state(): ProducerState {
    if (this.closed) return 'closed';
    if (this.producer) return 'connected';
    return this.connecting ? 'connecting' : 'idle';
  }

  /**
   * One attempt, bounded by the message timeout, to create the topic when missing and connect
   * the producer, so the first write does not pay for it. Never throws: when Kafka is down the
   * API starts anyway, answers 503 and tries again on the next write.
   */
  async start(): Promise<void> {
    try {
      await withDeadline(this.connect(), Date.now() + this.settings.messageTimeoutMs, () => this.unavailable(`connecting to Kafka took longer than ${this.settings.messageTimeoutMs} ms`));
      this.log.info('producer connected');
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'Kafka not reachable at startup; writes are answered 503 until it is');
    }
  }

  /** Produces one record and resolves once Kafka acknowledged it (acks=all); KAFKA_UNAVAILABLE when that does not happen in time. */
  async send(key: string, value: Buffer): Promise<Acknowledged> {
    if (this.closed) throw this.unavailable('the ingest API is shutting down');
    const producer = await withDeadline(this.connect(), Date.now() + this.settings.messageTimeoutMs, () => this.unavailable(`connecting to Kafka took longer than ${this.settings.messageTimeoutMs} ms`));
    const budget = this.settings.messageTimeoutMs + DEADLINE_GRACE_MS;
    try {
      const sent = await withDeadline(producer.send({ topic: this.topic, messages: [{ key, value }] }), Date.now() + budget, () =>
        this.unavailable(`Kafka did not acknowledge the write within ${budget} ms`),
      );
      const meta = sent[0];
      const offset = meta?.baseOffset ?? meta?.offset;
      if (!meta || meta.errorCode !== 0 || offset === undefined) {
        throw this.unavailable(`Kafka answered the write without an offset (error code ${meta?.errorCode ?? 'none'})`);
      }
      return { partition: meta.partition, offset: String(offset) };
    } catch (err) {
      if ((err as { fatal?: unknown }).fatal === true) this.discard(producer, err);
      throw this.toGeoError(err);
    }
  }

  /** Flushes what is in flight and disconnects. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    let producer = this.producer;
    if (!producer && this.connecting) {
      producer = await withDeadline(this.connecting, Date.now() + CLOSE_CONNECT_WAIT_MS, () => this.unavailable('connect still in progress')).catch(() => undefined);
    }
    this.producer = undefined;
    if (!producer) return;
    await producer.flush({ timeout: this.settings.messageTimeoutMs }).catch((err: unknown) => this.log.warn({ err: (err as Error).message }, 'flush before disconnect failed'));
    await producer.disconnect().catch((err: unknown) => this.log.warn({ err: (err as Error).message }, 'producer disconnect failed'));
    this.log.info('producer closed');
  }

  private connect(): Promise<Producer> {
    if (this.producer) return Promise.resolve(this.producer);
    this.connecting ??= this.doConnect().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private async doConnect(): Promise<Producer> {
    const reach = await probeKafka(this.o.bootstrap, { timeoutMs: Math.min(MAX_PROBE_MS, this.settings.messageTimeoutMs) });
    if (!reach.reachable) throw this.unavailable(`no broker of ${this.o.bootstrap.join(',')} answers (${reach.error})`);
    if (!this.topicReady) {
      await this.ensureTopic();
      this.topicReady = true;
    }
    const producer = this.o.kafka.producer({
      'linger.ms': this.settings.lingerMs,
      'message.timeout.ms': this.settings.messageTimeoutMs,
      kafkaJS: { acks: -1, idempotent: true },
    });
    try {
      await producer.connect();
    } catch (err) {
      await producer.disconnect().catch(() => undefined);
      throw this.unavailable(`connecting the producer failed: ${(err as Error).message}`, err);
    }
    if (this.closed) {
      await producer.disconnect().catch(() => undefined);
      throw this.unavailable('the ingest API is shutting down');
    }
    this.producer = producer;
    return producer;
  }

  private async ensureTopic(): Promise<void> {
    const admin = this.o.kafka.admin();
    try {
      await admin.connect();
      const topics = await admin.listTopics({ timeout: this.settings.messageTimeoutMs });
      if (topics.includes(this.topic)) return;
      await admin.createTopics({ topics: [{ topic: this.topic, numPartitions: this.settings.partitions }] }).catch((err: unknown) => {
        if ((err as { code?: number }).code !== KAFKA_TOPIC_ALREADY_EXISTS) throw err;
      });
      this.log.info({ partitions: this.settings.partitions }, 'documents topic created');
    } catch (err) {
      throw this.toGeoError(kafkaError(err, `creating the documents topic ${this.topic}`));
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }

  /** A producer in a fatal state is replaced on the next write. */
  private discard(producer: Producer, err: unknown): void {
    if (this.producer !== producer) return;
    this.producer = undefined;
    this.log.error({ err: (err as Error).message }, 'producer hit a fatal error; a new one is connected on the next write');
    void producer.disconnect().catch(() => undefined);
  }

  private toGeoError(err: unknown): GeoError {
    if (err instanceof GeoError && err.code !== 'KAFKA_OPERATION_FAILED') return err;
    const code = err instanceof GeoError ? err.details['kafkaCode'] : (err as { code?: unknown }).code;
    if (typeof code === 'number' && PERMANENT_KAFKA_CODES.has(code)) return err instanceof GeoError ? err : kafkaError(err, `writing to ${this.topic}`);
    return this.unavailable(`writing to ${this.topic} failed: ${(err as Error).message}`, err);
  }

  private unavailable(what: string, cause?: unknown): GeoError {
    return new GeoError('KAFKA_UNAVAILABLE', `Kafka of region ${this.o.region} is unavailable: ${what}.`, {
      ...(cause === undefined ? {} : { cause }),
      details: { region: this.o.region, topic: this.topic },
    });
  }
}

/** `promise`, or the error from `onTimeout` when it has not settled by `deadline` (ms since the epoch). */
function withDeadline<T>(promise: Promise<T>, deadline: number, onTimeout: () => Error): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(onTimeout()), Math.max(0, deadline - Date.now()));
    promise.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
