/**
 * Heartbeats: every region writes {region, ts} to its own heartbeat topic each interval. The
 * topic is replicated like any other, so a region that reads its copies knows how fresh its
 * copy of every other region is, in milliseconds, even when no documents are written.
 */
import type { KafkaJS } from '@confluentinc/kafka-javascript';
import type { Consumer, KafkaClient, Producer } from '../core/kafka.ts';
import { disconnectConsumer, kafkaError } from '../core/kafka.ts';
import type { Logger } from '../core/logger.ts';
import { sleep } from '../core/retry.ts';

/** How long closing the freshness consumer may take before its librdkafka consumer is closed directly. */
const CONSUMER_CLOSE_WAIT_MS = 15_000;

export interface Heartbeat {
  region: string;
  ts: number;
}

export function encodeHeartbeat(h: Heartbeat): string {
  return JSON.stringify(h);
}

export function decodeHeartbeat(value: Buffer | string | null | undefined): Heartbeat | undefined {
  if (value === null || value === undefined) return undefined;
  try {
    const h = JSON.parse(value.toString()) as Partial<Heartbeat>;
    return typeof h.region === 'string' && typeof h.ts === 'number' ? { region: h.region, ts: h.ts } : undefined;
  } catch {
    return undefined;
  }
}

export class HeartbeatEmitter {
  private readonly stopController = new AbortController();
  private loop: Promise<void> | undefined;
  private producer: Producer | undefined;
  lastSentAt: number | undefined;

  constructor(private readonly o: { kafka: KafkaClient; region: string; topic: string; intervalMs: number; log: Logger }) {}

  start(): void {
    this.loop ??= this.run();
  }

  async stop(): Promise<void> {
    this.stopController.abort();
    await this.loop;
    await this.producer?.disconnect().catch(() => undefined);
  }

  private async run(): Promise<void> {
    const signal = this.stopController.signal;
    while (!signal.aborted) {
      const t0 = Date.now();
      try {
        await this.ensure();
        await this.producer?.send({ topic: this.o.topic, messages: [{ key: this.o.region, value: encodeHeartbeat({ region: this.o.region, ts: t0 }) }] });
        this.lastSentAt = t0;
      } catch (err) {
        this.o.log.warn({ err: (err as Error).message }, 'heartbeat not sent');
        await this.producer?.disconnect().catch(() => undefined);
        this.producer = undefined;
      }
      await sleep(Math.max(0, this.o.intervalMs - (Date.now() - t0)), signal);
    }
  }

  private async ensure(): Promise<void> {
    if (this.producer) return;
    const admin = this.o.kafka.admin();
    try {
      await admin.connect();
      const topics = await admin.listTopics({ timeout: 5_000 });
      if (!topics.includes(this.o.topic)) {
        await admin.createTopics({ topics: [{ topic: this.o.topic, numPartitions: 1, configEntries: [{ name: 'retention.ms', value: String(24 * 3600 * 1000) }] }] }).catch((err: unknown) => {
          if ((err as { code?: number }).code !== 36) throw err;
        });
      }
    } catch (err) {
      throw kafkaError(err, `creating heartbeat topic ${this.o.topic}`);
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
    const p = this.o.kafka.producer({ 'linger.ms': 0, 'message.timeout.ms': Math.max(2_000, this.o.intervalMs * 5), kafkaJS: { acks: -1, idempotent: true } });
    await p.connect();
    this.producer = p;
  }
}

/** Reads the replicated heartbeats in one region and keeps the newest timestamp per source region. */
export class FreshnessTracker {
  private readonly newest = new Map<string, number>();
  private consumer: Consumer | undefined;
  private readonly stopController = new AbortController();
  private loop: Promise<void> | undefined;

  /** `groupId` must be unique to this tracker: every tracker reads every heartbeat, and shares partitions with no one. */
  constructor(private readonly o: { kafka: KafkaClient; topics: readonly string[]; groupId: string; log: Logger }) {}

  start(): void {
    this.loop ??= this.run();
  }

  /** Milliseconds since the newest heartbeat seen from each source; undefined until the first one. */
  freshnessMs(now = Date.now()): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [region, ts] of this.newest) out[region] = Math.max(0, now - ts);
    return out;
  }

  async stop(): Promise<void> {
    this.stopController.abort();
    await this.loop;
    if (this.consumer) await disconnectConsumer(this.consumer, CONSUMER_CLOSE_WAIT_MS, this.o.log);
  }

  /**
   * Subscribes only to copies that exist (they appear once the flows' topic sync creates them),
   * re-checking every few seconds, so a missing topic is not an error loop in the consumer.
   */
  private async run(): Promise<void> {
    const signal = this.stopController.signal;
    let subscribed: string[] = [];
    while (!signal.aborted) {
      try {
        const admin = this.o.kafka.admin();
        await admin.connect();
        const existing = await admin.listTopics({ timeout: 5_000 }).finally(() => admin.disconnect().catch(() => undefined));
        const topics = this.o.topics.filter((t) => existing.includes(t)).sort();
        if (topics.length > 0 && topics.join() !== subscribed.join()) {
          // A running consumer does not take a new subscription reliably: start a fresh one on the
          // whole set (its own group, no commits; it reads from the latest heartbeat on).
          if (this.consumer) await disconnectConsumer(this.consumer, CONSUMER_CLOSE_WAIT_MS, this.o.log);
          this.consumer = undefined;
          const c = this.o.kafka.consumer({ 'isolation.level': 'read_committed', kafkaJS: { groupId: this.o.groupId, fromBeginning: false, autoCommit: false } });
          await c.connect();
          this.consumer = c;
          await c.subscribe({ topics });
          await c.run({
            eachMessage: ({ message }: KafkaJS.EachMessagePayload) => {
              const h = decodeHeartbeat(message.value);
              if (h && h.ts > (this.newest.get(h.region) ?? 0)) this.newest.set(h.region, h.ts);
              return Promise.resolve();
            },
          });
          subscribed = topics;
        }
      } catch (err) {
        this.o.log.warn({ err: (err as Error).message }, 'freshness tracker: retrying');
      }
      if (subscribed.length === this.o.topics.length) return;
      await sleep(2_000, signal);
    }
  }
}
