/**
 * Plain Kafka clients for benchmarks: a full-speed producer, a fixed-rate producer, consumers
 * that count distinct records of one run, and read_committed end offsets. Their settings are
 * the replicator's own (replicator/flow-copier.ts, replicator/flow.ts), minus the
 * transaction, so "plain clients" and the replicator differ only in what the replicator adds.
 */
import { KafkaJS } from '../../core/kafka.ts';
import type { Admin, Consumer, KafkaClient } from '../../core/kafka.ts';
import { sleep } from '../../core/retry.ts';
import { createLogger } from '../../core/logger.ts';
import { CopyProducer } from '../../replicator/copy-producer.ts';
import { COPIER_PRODUCER } from '../../replicator/flow-copier.ts';
import type { RecordFactory } from './records.ts';

/** Wall-clock milliseconds with sub-millisecond resolution; one clock for producers and consumers in this process. */
const producerLog = createLogger({ name: 'bench-produce', level: 'error' });

export function wallNow(): number {
  return performance.timeOrigin + performance.now();
}


/** The flow's source-consumer settings (replicator/source-reader.ts) that matter for throughput. */
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
 * as fast as the producer takes them (acks=all, idempotent), through the replicator's own copy
 * producer (replicator/copy-producer.ts: the binding's API, its settings, no transaction), so
 * that a ceiling measured with it differs from the replicator only in what the replicator
 * adds. Values are stamped per chunk of `chunk` records. Timed from the first record handed
 * over to the last acknowledgement.
 */
export async function produceAll(bootstrap: readonly string[], topic: string, o: { count: number; partitions: number; factory: RecordFactory; chunk?: number; headers?: (seq: number, partition: number) => Record<string, string> }): Promise<ProduceResult> {
  const producer = await CopyProducer.open({ bootstrap, clientId: 'bench-produce', transactionalId: undefined, transactionTimeoutMs: 60_000, settings: COPIER_PRODUCER, log: producerLog });
  try {
    const chunk = o.chunk ?? 5_000;
    const t0 = performance.now();
    await producer.track();
    for (let from = 0; from < o.count; from += chunk) {
      const now = wallNow();
      for (let seq = from; seq < Math.min(o.count, from + chunk); seq++) {
        const partition = seq % o.partitions;
        const headers = o.headers ? [o.headers(seq, partition)] : undefined;
        while (!producer.tryProduce(topic, partition, o.factory.value(seq, now), null, undefined, headers)) await producer.room();
      }
    }
    const d = await producer.delivered();
    if (d.error) throw d.error.error;
    const seconds = (performance.now() - t0) / 1000;
    return { records: o.count, seconds, recordsPerSec: o.count / seconds };
  } finally {
    await producer.close(10_000);
  }
}

export interface RateProducer {
  /** Records handed to the producer so far (their sequence numbers are 0..sent-1). */
  sent(): number;
  stop(): Promise<{ sent: number; acked: number; failed: number; seconds: number }>;
}

/**
 * Produces at `ratePerSec` until stopped: every `tickMs` it hands over the records that are
 * due, each stamped with the wall clock just before, through the copy producer (the lightest
 * load generator this process has: it shares the machine with what it measures). Deliveries
 * are not awaited one by one, so a slow acknowledgement does not lower the rate.
 */
export async function produceAtRate(bootstrap: readonly string[], topic: string, o: { ratePerSec: number; partitions: number; factory: RecordFactory; tickMs?: number }): Promise<RateProducer> {
  const producer = await CopyProducer.open({ bootstrap, clientId: 'bench-rate', transactionalId: undefined, transactionTimeoutMs: 60_000, settings: COPIER_PRODUCER, log: producerLog });
  await producer.track();
  let running = true;
  let sent = 0;
  const t0 = performance.now();
  const loop = (async () => {
    while (running) {
      const due = Math.floor(((performance.now() - t0) / 1000) * o.ratePerSec);
      const now = wallNow();
      for (; sent < due; sent++) {
        while (!producer.tryProduce(topic, sent % o.partitions, o.factory.value(sent, now), null, undefined, undefined)) await producer.room();
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
      const d = await producer.delivered();
      await producer.close(10_000);
      return { sent, acked: sent - d.refused, failed: d.refused, seconds };
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
