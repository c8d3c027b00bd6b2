/**
 * The dead-letter topic: a poison record (an event that does not decode, or a document OpenSearch
 * refuses) is written there unchanged (key, value, headers), with headers naming why and where it
 * came from, so it can be inspected with kcat and replayed after a fix.
 */
import type { KafkaClient, Producer } from '../../core/kafka.ts';
import { kafkaError } from '../../core/kafka.ts';
import type { DeadLetterReason } from './metrics.ts';
import type { Coordinates } from './offset-tracker.ts';

export const H_DLQ_REASON = 'georeplica-dlq-reason';
export const H_DLQ_REASON_CODE = 'georeplica-dlq-reason-code';
export const H_DLQ_TOPIC = 'georeplica-dlq-source-topic';
export const H_DLQ_PARTITION = 'georeplica-dlq-source-partition';
export const H_DLQ_OFFSET = 'georeplica-dlq-source-offset';
export const H_DLQ_REGION = 'georeplica-dlq-indexer-region';
export const H_DLQ_AT = 'georeplica-dlq-at';

/** The original record, as consumed. */
export interface SourceRecord extends Coordinates {
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, Buffer | string | (Buffer | string)[] | undefined>;
}

export interface DeadLetter {
  record: SourceRecord;
  code: DeadLetterReason;
  reason: string;
}

export class DeadLetterWriter {
  private producer: Producer | undefined;

  constructor(private readonly o: { kafka: KafkaClient; topic: string; region: string }) {}

  async ensureTopic(): Promise<void> {
    const admin = this.o.kafka.admin();
    try {
      await admin.connect();
      const topics = await admin.listTopics({ timeout: 10_000 });
      if (!topics.includes(this.o.topic)) {
        await admin.createTopics({ topics: [{ topic: this.o.topic, numPartitions: 1, configEntries: [{ name: 'retention.ms', value: String(14 * 24 * 3600 * 1000) }] }] }).catch((err: unknown) => {
          if ((err as { code?: number }).code !== 36) throw err; // TOPIC_ALREADY_EXISTS
        });
      }
    } catch (err) {
      throw kafkaError(err, `creating dead-letter topic ${this.o.topic}`);
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }

  async send(letters: readonly DeadLetter[]): Promise<void> {
    if (letters.length === 0) return;
    try {
      if (!this.producer) {
        const p = this.o.kafka.producer({ 'linger.ms': 5, kafkaJS: { acks: -1, idempotent: true } });
        await p.connect();
        this.producer = p;
      }
      const at = new Date().toISOString();
      await this.producer.send({
        topic: this.o.topic,
        messages: letters.map((l) => ({
          key: l.record.key,
          value: l.record.value,
          headers: {
            ...l.record.headers,
            [H_DLQ_REASON]: l.reason,
            [H_DLQ_REASON_CODE]: l.code,
            [H_DLQ_TOPIC]: l.record.topic,
            [H_DLQ_PARTITION]: String(l.record.partition),
            [H_DLQ_OFFSET]: l.record.offset,
            [H_DLQ_REGION]: this.o.region,
            [H_DLQ_AT]: at,
          },
        })),
      });
    } catch (err) {
      await this.producer?.disconnect().catch(() => undefined);
      this.producer = undefined;
      throw kafkaError(err, `writing ${letters.length} record(s) to dead-letter topic ${this.o.topic}`);
    }
  }

  async close(): Promise<void> {
    await this.producer?.disconnect().catch(() => undefined);
    this.producer = undefined;
  }
}
