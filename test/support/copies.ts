/**
 * Reads a whole copy topic with read_committed and checks it against the source: every source
 * record exactly once, in source order per partition, with nothing else in between.
 */
import type { KafkaJS } from '@confluentinc/kafka-javascript';
import type { Admin, KafkaClient } from '../../core/kafka.ts';
import { readOrigin } from '../../replicator/provenance.ts';
import { uniqueName } from './names.ts';

export interface CopyAudit {
  total: number;
  /** Source (partition/offset) seen more than once. */
  duplicates: string[];
  /** Partitions whose origin offsets are not strictly increasing. */
  outOfOrder: number[];
  /** Copies not on the same partition number as their source. */
  misplaced: number;
  /** origin offsets per partition, in copy order. */
  byPartition: Map<number, number[]>;
}

/** The end offsets with read_committed (the last stable offset per partition). */
export async function committedEnds(admin: Admin, topic: string): Promise<Map<number, number>> {
  const offsets = await admin.fetchTopicOffsets(topic, { isolationLevel: 1 as unknown as KafkaJS.IsolationLevel, timeout: 10_000 });
  return new Map(offsets.map((o) => [o.partition, Number(o.offset)]));
}

/** Consumes `topic` from the beginning until `expected` records arrived or `timeoutMs` passed with no progress. */
export async function readAll(kafka: KafkaClient, topic: string, expected: number, timeoutMs = 60_000): Promise<Array<{ partition: number; offset: number; headers: Record<string, string>; key?: string; value?: string }>> {
  // A consumer subscribed to a topic that does not exist yet only notices it at the next
  // metadata refresh (5 min by default): wait for the topic first.
  const admin = kafka.admin();
  await admin.connect();
  try {
    const deadline = Date.now() + timeoutMs;
    while (!(await admin.listTopics()).includes(topic)) {
      if (Date.now() > deadline) throw new Error(`topic ${topic} did not appear within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 250));
    }
  } finally {
    await admin.disconnect();
  }
  const consumer = kafka.consumer({ 'isolation.level': 'read_committed', 'topic.metadata.refresh.interval.ms': 1_000, kafkaJS: { groupId: uniqueName('audit'), fromBeginning: true, autoCommit: false } });
  await consumer.connect();
  const out: Array<{ partition: number; offset: number; headers: Record<string, string>; key?: string; value?: string }> = [];
  try {
    await consumer.subscribe({ topic });
    let last = Date.now();
    await consumer.run({
      eachMessage: ({ partition, message }) => {
        last = Date.now();
        out.push({
          partition,
          offset: Number(message.offset),
          headers: Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v)])),
          ...(message.key ? { key: message.key.toString() } : {}),
          ...(message.value ? { value: message.value.toString() } : {}),
        });
        return Promise.resolve();
      },
    });
    while (out.length < expected && Date.now() - last < timeoutMs) await new Promise((r) => setTimeout(r, 200));
    // Linger briefly: anything beyond `expected` would be a duplicate we must see.
    await new Promise((r) => setTimeout(r, 1_500));
  } finally {
    await consumer.disconnect();
  }
  return out;
}

export function audit(records: ReadonlyArray<{ partition: number; headers: Record<string, string> }>): CopyAudit {
  const seen = new Set<string>();
  const duplicates: string[] = [];
  const byPartition = new Map<number, number[]>();
  let misplaced = 0;
  for (const r of records) {
    const origin = readOrigin(r.headers);
    const op = origin?.partition ?? Number.NaN;
    const oo = Number(origin?.offset ?? Number.NaN);
    const k = `${op}/${oo}`;
    if (seen.has(k)) duplicates.push(k);
    seen.add(k);
    if (op !== r.partition) misplaced++;
    const list = byPartition.get(op) ?? [];
    list.push(oo);
    byPartition.set(op, list);
  }
  const outOfOrder = [...byPartition.entries()].filter(([, l]) => l.some((v, i) => i > 0 && v <= (l[i - 1] as number))).map(([p]) => p);
  return { total: records.length, duplicates, outOfOrder, misplaced, byPartition };
}
