/**
 * Reads one copy topic whole, with read_committed (what the indexers read), and compares it with
 * its source topic: every source record should be there once, on its own partition number, in
 * source order. The source is written by the ingest APIs' idempotent, non-transactional
 * producers, so its offsets are dense: partition p holds offsets 0 .. end(p) - 1.
 */
import { randomUUID } from 'node:crypto';
import type { KafkaJS } from '@confluentinc/kafka-javascript';
import type { Deployment } from '../config/schema.ts';
import { disconnectConsumer, kafkaClient } from '../core/kafka.ts';
import type { Logger } from '../core/logger.ts';
import { sleep } from '../core/retry.ts';
import { namingPolicy } from '../replicator/naming-policy.ts';
import { readOrigin } from '../replicator/provenance.ts';

export interface CopyAudit {
  source: string;
  target: string;
  topic: string;
  /** Records of the source topic (sum of its end offsets when the audit started). */
  sourceRecords: number;
  /** Copies read. */
  copies: number;
  /** "partition/offset" of source records that are not in the copy. */
  missing: string[];
  /** "partition/offset" of source records copied more than once. */
  duplicates: string[];
  /** Source partitions whose copies are not in strictly increasing origin-offset order. */
  outOfOrder: number[];
  /** Copies on another partition number than their source's. */
  misplaced: number;
  /** Source partition → the set of origin offsets copied. */
  copied: Map<number, Set<number>>;
}

export interface CopyAuditOptions {
  deployment: Readonly<Deployment>;
  source: string;
  target: string;
  log: Logger;
  /** Give up reading when no record arrived for this long. */
  idleMs?: number;
}

export async function auditCopy(o: CopyAuditOptions): Promise<CopyAudit> {
  const d = o.deployment;
  const sourceTopic = d.topics.documents;
  const policy = namingPolicy({ naming: d.replication.naming, include: d.replication.include, exclude: d.replication.exclude, regions: Object.keys(d.regions), instance: d.replication.instance });
  const topic = policy.targetTopic(o.source, sourceTopic);
  const ends = await endOffsets(d.regions[o.source]?.kafka.bootstrap ?? [], sourceTopic, o.log);
  const sourceRecords = [...ends.values()].reduce((a, b) => a + b, 0);

  const consumer = kafkaClient({ bootstrap: d.regions[o.target]?.kafka.bootstrap ?? [], clientId: 'chaos-audit', log: o.log }).consumer({
    'isolation.level': 'read_committed',
    // A consumer notices a topic created after it subscribed only at a metadata refresh.
    'topic.metadata.refresh.interval.ms': 1_000,
    kafkaJS: { groupId: `chaos-audit-${randomUUID().slice(0, 8)}`, fromBeginning: true, autoCommit: false },
  });
  const order = new Map<number, number[]>();
  let copies = 0;
  let misplaced = 0;
  let last = Date.now();
  await consumer.connect();
  try {
    await consumer.subscribe({ topic });
    await consumer.run({
      eachMessage: ({ partition, message }) => {
        last = Date.now();
        const origin = readOrigin(message.headers);
        // Identity naming mixes local records into the same topic: only the source's count.
        if (origin?.region !== o.source) return Promise.resolve();
        const op = origin.partition;
        const oo = Number(origin.offset);
        copies++;
        if (op !== partition) misplaced++;
        const list = order.get(op) ?? [];
        list.push(oo);
        order.set(op, list);
        return Promise.resolve();
      },
    });
    const idleMs = o.idleMs ?? 15_000;
    while (copies < sourceRecords && Date.now() - last < idleMs) await sleep(200);
    // Anything past the source's records would be a duplicate: linger to see it.
    await sleep(1_500);
  } finally {
    await disconnectConsumer(consumer, 15_000, o.log);
  }

  const duplicates: string[] = [];
  const outOfOrder: number[] = [];
  const copied = new Map<number, Set<number>>();
  for (const [p, list] of order) {
    const set = new Set<number>();
    list.forEach((off, i) => {
      if (set.has(off)) duplicates.push(`${p}/${off}`);
      set.add(off);
      if (i > 0 && off <= (list[i - 1] as number)) outOfOrder.push(p);
    });
    copied.set(p, set);
  }
  const missing: string[] = [];
  for (const [p, end] of ends) for (let off = 0; off < end; off++) if (!copied.get(p)?.has(off)) missing.push(`${p}/${off}`);
  return { source: o.source, target: o.target, topic, sourceRecords, copies, missing, duplicates, outOfOrder: [...new Set(outOfOrder)], misplaced, copied };
}

async function endOffsets(bootstrap: readonly string[], topic: string, log: Logger): Promise<Map<number, number>> {
  const admin = kafkaClient({ bootstrap, clientId: 'chaos-audit', log }).admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topic, { isolationLevel: 1 as unknown as KafkaJS.IsolationLevel, timeout: 10_000 });
    return new Map(offsets.map((x) => [x.partition, Number(x.offset)]));
  } finally {
    await admin.disconnect();
  }
}
