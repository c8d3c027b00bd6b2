/**
 * Plain Kafka clients for benchmarks: a full-speed producer, a fixed-rate producer, consumers
 * that count distinct records of one run, and read_committed end offsets. Their settings are
 * the replicator's own (replicator/partition-copier.ts, replicator/flow.ts), minus the
 * transaction, so "plain clients" and the replicator differ only in what the replicator adds.
 */
import { KafkaJS } from '../../core/kafka.ts';
import type { Admin, Consumer, KafkaClient } from '../../core/kafka.ts';
import { sleep } from '../../core/retry.ts';
import type { RecordFactory } from './records.ts';

/** Wall-clock milliseconds with sub-millisecond resolution; one clock for producers and consumers in this process. */
export function wallNow(): number {
  return performance.timeOrigin + performance.now();
}

/** The copier's producer settings (replicator/partition-copier.ts) without transactional.id. */
export const COPIER_PRODUCER = {
  'linger.ms': 5,
  'batch.size': 1_000_000,
  'compression.type': 'lz4',
  'queue.buffering.max.messages': 500_000,
  'message.max.bytes': 64 * 1024 * 1024,
} as const;

/** The flow's source-consumer settings (replicator/flow.ts) that matter for throughput. */
export function flowLikeConsumer(maxBatchRecords: number) {
  return {
    'isolation.level': 'read_committed',
    'fetch.max.bytes': 64 * 1024 * 1024,
    'max.partition.fetch.bytes': 8 * 1024 * 1024,
    'queued.max.messages.kbytes': 262_144,
    'js.consumer.max.batch.size': maxBatchRecords,
  } as const;
}

export interface ProduceResult {
  records: number;
  seconds: number;
  recordsPerSec: number;
}

/**
 * Produces `count` records of `factory` (sequence 0..count-1, round-robin over partitions)
 * as fast as the producer acknowledges them (acks=all, idempotent), `inFlight` sends of
 * `chunk` records at a time. Timed from the first send to the last acknowledgement.
 */
export async function produceAll(kafka: KafkaClient, topic: string, o: { count: number; partitions: number; factory: RecordFactory; chunk?: number; inFlight?: number; headers?: (seq: number, partition: number) => KafkaJS.IHeaders }): Promise<ProduceResult> {
  const producer = kafka.producer({ ...COPIER_PRODUCER, kafkaJS: { acks: -1, idempotent: true } });
  await producer.connect();
  try {
    const chunk = o.chunk ?? 5_000;
    let next = 0;
    const t0 = performance.now();
    const worker = async (): Promise<void> => {
      while (next < o.count) {
        const from = next;
        const n = Math.min(chunk, o.count - from);
        next += n;
        const now = wallNow();
        const messages: KafkaJS.Message[] = new Array<KafkaJS.Message>(n);
        for (let i = 0; i < n; i++) {
          const partition = (from + i) % o.partitions;
          messages[i] = { value: o.factory.value(from + i, now), partition, ...(o.headers ? { headers: o.headers(from + i, partition) } : {}) };
        }
        await producer.send({ topic, messages });
      }
    };
    await Promise.all(Array.from({ length: o.inFlight ?? 4 }, worker));
    const seconds = (performance.now() - t0) / 1000;
    return { records: o.count, seconds, recordsPerSec: o.count / seconds };
  } finally {
    await producer.disconnect().catch(() => undefined);
  }
}

export interface RateProducer {
  /** Records handed to the producer so far (their sequence numbers are 0..sent-1). */
  sent(): number;
  stop(): Promise<{ sent: number; acked: number; failed: number; seconds: number }>;
}

/**
 * Produces at `ratePerSec` until stopped: every `tickMs` it sends the records that are due,
 * each stamped with the wall clock just before the send. Sends are not awaited one by one,
 * so a slow acknowledgement does not lower the rate.
 */
export async function produceAtRate(kafka: KafkaClient, topic: string, o: { ratePerSec: number; partitions: number; factory: RecordFactory; tickMs?: number }): Promise<RateProducer> {
  const producer = kafka.producer({ ...COPIER_PRODUCER, kafkaJS: { acks: -1, idempotent: true } });
  await producer.connect();
  let running = true;
  let sent = 0;
  let acked = 0;
  let failed = 0;
  const pending = new Set<Promise<void>>();
  const t0 = performance.now();
  const loop = (async () => {
    while (running) {
      const due = Math.floor(((performance.now() - t0) / 1000) * o.ratePerSec);
      if (due > sent) {
        const from = sent;
        const n = due - from;
        const now = wallNow();
        const messages: KafkaJS.Message[] = new Array<KafkaJS.Message>(n);
        for (let i = 0; i < n; i++) messages[i] = { value: o.factory.value(from + i, now), partition: (from + i) % o.partitions };
        sent = due;
        const p: Promise<void> = producer.send({ topic, messages }).then(
          () => {
            acked += n;
          },
          () => {
            failed += n;
          },
        );
        pending.add(p);
        void p.finally(() => pending.delete(p));
      }
      await sleep(o.tickMs ?? 10);
    }
  })();
  return {
    sent: () => sent,
    async stop() {
      running = false;
      await loop;
      const seconds = (performance.now() - t0) / 1000;
      await Promise.all([...pending]);
      await producer.disconnect().catch(() => undefined);
      return { sent, acked, failed, seconds };
    },
  };
}

export interface BatchView {
  partition: number;
  messages: KafkaJS.KafkaMessage[];
  /** performance.now() when the batch reached JavaScript. */
  at: number;
}

export interface RunningConsumer {
  consumer: Consumer;
  stop(): Promise<void>;
}

type ConsumerSettings = Omit<NonNullable<Parameters<KafkaClient['consumer']>[0]>, 'kafkaJS'>;

/** Subscribes a new group to `topic` and hands every batch to `onBatch` (synchronously). */
export async function startConsumer(kafka: KafkaClient, topic: string, o: { groupId: string; fromBeginning: boolean; settings: ConsumerSettings; concurrency?: number; onBatch: (b: BatchView) => void }): Promise<RunningConsumer> {
  const consumer = kafka.consumer({ ...o.settings, kafkaJS: { groupId: o.groupId, fromBeginning: o.fromBeginning, autoCommit: false } });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic] });
    await consumer.run({
      partitionsConsumedConcurrently: o.concurrency ?? 1,
      eachBatch: ({ batch }) => {
        o.onBatch({ partition: batch.partition, messages: batch.messages, at: performance.now() });
        return Promise.resolve();
      },
    });
  } catch (err) {
    await consumer.disconnect().catch(() => undefined);
    throw err;
  }
  return { consumer, stop: () => consumer.disconnect().catch(() => undefined) };
}

/** Waits until the consumer owns `partitions` partitions (its group join is done). */
export async function waitForAssignment(consumer: Consumer, partitions: number, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let n = 0;
    try {
      n = consumer.assignment().length;
    } catch {
      // not running yet
    }
    if (n >= partitions) return;
    if (Date.now() > deadline) throw new Error(`consumer got ${n} of ${partitions} partitions within ${timeoutMs} ms`);
    await sleep(50);
  }
}

export interface CountResult {
  /** Records read (all of them, this run's or not, duplicates included). */
  records: number;
  /** Distinct records of this run (by tag and sequence number). */
  distinct: number;
  duplicates: number;
  /** Records that are not this run's (wrong tag or sequence out of range). */
  foreign: number;
  /** Records in the first batch that reached JavaScript. */
  firstBatch: number;
  /** performance.now() of the first and the last batch with a new distinct record. */
  firstAt: number | undefined;
  lastAt: number | undefined;
  /** Distinct records per second from the first to the last batch, the first batch excluded. */
  recordsPerSec: number;
}

/**
 * Reads `topic` from the beginning in a new group and counts the distinct records of one run
 * (sequence numbers 0..expected-1 with `tag`), until all of them arrived or nothing new came
 * for `idleTimeoutMs`. `onFirstBatch` runs once, when the first batch reaches JavaScript.
 */
export async function countRecords(kafka: KafkaClient, topic: string, o: { groupId: string; expected: number; tag: number; settings: ConsumerSettings; concurrency?: number; idleTimeoutMs?: number; onFirstBatch?: () => void }): Promise<CountResult> {
  const seen = new Uint8Array(o.expected);
  const r: CountResult = { records: 0, distinct: 0, duplicates: 0, foreign: 0, firstBatch: 0, firstAt: undefined, lastAt: undefined, recordsPerSec: Number.NaN };
  let progressAt = performance.now();
  let resolveDone: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (resolveDone = resolve));
  const running = await startConsumer(kafka, topic, {
    groupId: o.groupId,
    fromBeginning: true,
    settings: o.settings,
    ...(o.concurrency !== undefined ? { concurrency: o.concurrency } : {}),
    onBatch: (b) => {
      let fresh = 0;
      for (const m of b.messages) {
        r.records++;
        const v = m.value;
        if (!v || v.length < 16 || v.readUInt32LE(12) !== o.tag) {
          r.foreign++;
          continue;
        }
        const seq = v.readUInt32LE(8);
        if (seq >= o.expected) r.foreign++;
        else if (seen[seq] === 1) r.duplicates++;
        else {
          seen[seq] = 1;
          fresh++;
        }
      }
      if (fresh === 0) return;
      r.distinct += fresh;
      if (r.firstAt === undefined) {
        r.firstAt = b.at;
        r.firstBatch = fresh;
        o.onFirstBatch?.();
      }
      r.lastAt = b.at;
      progressAt = b.at;
      if (r.distinct >= o.expected) resolveDone();
    },
  });
  try {
    const idle = o.idleTimeoutMs ?? 30_000;
    while (r.distinct < o.expected && performance.now() - progressAt < idle) await Promise.race([done, sleep(100)]);
  } finally {
    await running.stop();
  }
  if (r.firstAt !== undefined && r.lastAt !== undefined && r.lastAt > r.firstAt) r.recordsPerSec = (r.distinct - r.firstBatch) / ((r.lastAt - r.firstAt) / 1000);
  return r;
}

/** Sum over partitions of the end offsets; with `committed` the last stable offsets (what read_committed can see). */
export async function endOffsetSum(admin: Admin, topic: string, committed: boolean): Promise<number> {
  const isolationLevel = committed ? KafkaJS.IsolationLevel.READ_COMMITTED : KafkaJS.IsolationLevel.READ_UNCOMMITTED;
  const offsets = await admin.fetchTopicOffsets(topic, { isolationLevel, timeout: 10_000 });
  return offsets.reduce((sum, o) => sum + Number(o.offset), 0);
}
