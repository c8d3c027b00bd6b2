/**
 * Copies one source partition to the same partition of its target copy. In exactly-once mode
 * every batch is one transaction on the target cluster holding the copies, an offset-sync
 * record and the checkpoint (the next source offset, as a transactional offset commit of the
 * checkpoint group), so after any crash the copy resumes exactly after the last commit.
 */
import type { KafkaJS } from '@confluentinc/kafka-javascript';
import { GeoError } from '../core/errors.ts';
import type { Consumer, KafkaClient, Producer } from '../core/kafka.ts';
import { kafkaError } from '../core/kafka.ts';
import type { Logger } from '../core/logger.ts';
import type { FlowNames } from './names.ts';
import { isReplicated, withProvenance } from './provenance.ts';

export type CopyMode = 'exactly-once' | 'at-least-once';

export interface CopierOptions {
  names: FlowNames;
  sourceRegion: string;
  targetRegion: string;
  sourceTopic: string;
  targetTopic: string;
  partition: number;
  mode: CopyMode;
  /** identity naming: skip records that already arrived by replication. */
  skipReplicated: boolean;
  /** Off for the heartbeat topic: one sync a second per flow would bloat the sync topic, and nobody fails a group over on heartbeats. */
  writeOffsetSyncs: boolean;
  target: KafkaClient;
  /** A consumer of the checkpoint group on the target cluster, used only for its group metadata. */
  checkpointConsumer: Consumer;
  log: Logger;
}

export interface CopyResult {
  copied: number;
  skipped: number;
  bytes: number;
  nextSourceOffset: string;
  targetBaseOffset: string | undefined;
}

/**
 * The longest a copy (one transaction, or one batch of acknowledged writes) may take. Every
 * librdkafka call in it has its own timeout, but a copy caught in a coordinator or leader move
 * has been seen waiting minutes for delivery reports; past this it is abandoned (aborted, the
 * producer reopened, which fences it, and the partition rewound to its checkpoint).
 */
export const COPY_DEADLINE_MS = 30_000;
/** How long closing a producer may hold up a rewind. */
const CLOSE_WAIT_MS = 6_000;
/** Deliveries fail before the copy deadline passes, so an abandoned copy has no delivery pending. */
const MESSAGE_TIMEOUT_MS = 25_000;

/** Kafka error codes that mean the copy can never succeed as configured: stop the partition, do not skip. */
const POISON_CODES = new Set([10 /* MSG_SIZE_TOO_LARGE */, 18 /* RECORD_LIST_TOO_LARGE */, 87 /* INVALID_RECORD */, 2 /* CORRUPT_MESSAGE */]);
/** Another owner initialised our transactional id: we are a zombie and must stop. */
const FENCED_CODES = new Set([-144 /* ERR__FENCED */, 90 /* PRODUCER_FENCED */, 47 /* INVALID_PRODUCER_EPOCH */]);

/** The Kafka error code of a client error, or of the one a GeoError wraps (whose own `code` is a catalogue string). */
function kafkaCodeOf(err: unknown): unknown {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'number' ? code : (err as { cause?: { code?: unknown } }).cause?.code;
}

export function isFenced(err: unknown): boolean {
  const code = kafkaCodeOf(err);
  return typeof code === 'number' && FENCED_CODES.has(code);
}

/**
 * A fatal producer error (librdkafka's ERR__FATAL, whose cause is often _FENCED): the producer
 * is unusable, and re-initialising its transactional id at once could fence the partition's
 * legitimate new owner if we are the zombie. The flow treats it like fencing.
 */
export function isFatal(err: unknown): boolean {
  const e = err as { fatal?: unknown; details?: { fatal?: unknown }; cause?: { fatal?: unknown } };
  return e.fatal === true || e.details?.fatal === true || e.cause?.fatal === true || kafkaCodeOf(err) === -150;
}

export function isPoison(err: unknown): boolean {
  const code = kafkaCodeOf(err);
  return typeof code === 'number' && POISON_CODES.has(code);
}

export class PartitionCopier {
  private producer: Producer | undefined;
  private readonly o: CopierOptions;

  constructor(o: CopierOptions) {
    this.o = o;
  }

  get key(): string {
    return `${this.o.sourceTopic}/${this.o.partition}`;
  }

  /** Connects the producer; with transactions this initialises the id and fences any previous owner. */
  async open(): Promise<void> {
    const eos = this.o.mode === 'exactly-once';
    const producer = this.o.target.producer({
      'linger.ms': 5,
      'batch.size': 1_000_000,
      'compression.type': 'lz4',
      'queue.buffering.max.messages': 500_000,
      'message.max.bytes': 64 * 1024 * 1024,
      'message.timeout.ms': MESSAGE_TIMEOUT_MS,
      kafkaJS: {
        acks: -1,
        idempotent: true,
        ...(eos ? { transactionalId: this.o.names.transactionalId(this.o.sourceTopic, this.o.partition), transactionTimeout: 60_000 } : {}),
      },
    });
    try {
      await producer.connect();
    } catch (err) {
      // A producer whose initialisation timed out goes on trying in the background: left alive,
      // it would fence the next one opened with the same transactional id.
      await producer.disconnect().catch(() => undefined);
      throw kafkaError(err, `opening the ${eos ? 'transactional ' : ''}producer for ${this.o.names.flowId} ${this.key}`);
    }
    this.producer = producer;
  }

  /**
   * Disconnects the producer, waiting at most CLOSE_WAIT_MS: the disconnect of a producer stuck
   * in a transaction (the copy that was abandoned) can block for minutes inside librdkafka. It
   * goes on in the background; the next producer opened with the same transactional id fences
   * it, so it can no longer commit anything.
   */
  async close(): Promise<void> {
    const p = this.producer;
    this.producer = undefined;
    if (!p) return;
    const closed = await settlesWithin(p.disconnect(), CLOSE_WAIT_MS);
    if (!closed) this.o.log.warn({ partition: this.key, waitedMs: CLOSE_WAIT_MS }, 'producer still closing; going on without it (the next one fences it)');
  }

  /** Copies `messages` (consecutive, in source order) as one unit; throws a GeoError on failure, having aborted. */
  async copy(messages: readonly KafkaJS.KafkaMessage[]): Promise<CopyResult> {
    const producer = this.producer;
    if (!producer) throw new GeoError('INTERNAL', `copier ${this.key} used before open()`);
    const last = messages[messages.length - 1];
    if (!last) throw new GeoError('INTERNAL', 'empty batch');
    const nextSourceOffset = String(BigInt(last.offset) + 1n);
    const out: KafkaJS.Message[] = [];
    let bytes = 0;
    let skipped = 0;
    for (const m of messages) {
      const headers = m.headers;
      if (this.o.skipReplicated && isReplicated(headers)) {
        skipped++;
        continue;
      }
      bytes += (m.value?.length ?? 0) + (m.key?.length ?? 0);
      out.push({
        key: m.key,
        value: m.value,
        partition: this.o.partition,
        timestamp: m.timestamp,
        headers: withProvenance(headers, { region: this.o.sourceRegion, topic: this.o.sourceTopic, partition: this.o.partition, offset: m.offset }, this.o.targetRegion),
      });
    }
    const firstCopied = messages.find((m) => !(this.o.skipReplicated && isReplicated(m.headers)));
    const r = { skipped, bytes, nextSourceOffset, firstSourceOffset: firstCopied?.offset };
    return this.o.mode === 'at-least-once' ? this.copyAtLeastOnce(producer, out, r) : this.copyInTransaction(producer, out, r);
  }

  private async copyInTransaction(producer: Producer, out: KafkaJS.Message[], r: { skipped: number; bytes: number; nextSourceOffset: string; firstSourceOffset: string | undefined }): Promise<CopyResult> {
    let txn: KafkaJS.Transaction | undefined;
    try {
      return await withDeadline(COPY_DEADLINE_MS, `copying ${this.key} of ${this.o.names.flowId}`, async () => {
        txn = await producer.transaction();
        let targetBaseOffset: string | undefined;
        const pending: Array<Promise<unknown>> = [];
        if (out.length > 0) {
          const meta = await txn.send({ topic: this.o.targetTopic, messages: out });
          targetBaseOffset = meta.find((m) => m.partition === this.o.partition)?.baseOffset ?? undefined;
          if (this.o.writeOffsetSyncs && targetBaseOffset !== undefined && r.firstSourceOffset !== undefined) {
            pending.push(txn.send({ topic: this.o.names.offsetSyncTopic, messages: [offsetSyncRecord(this.o.sourceTopic, this.o.partition, r.firstSourceOffset, targetBaseOffset)] }));
          }
        }
        // The sync record's delivery and the checkpoint overlap: both are inside the transaction,
        // and the commit waits for every delivery anyway. Sequential they cost one more round trip.
        pending.push(
          txn.sendOffsets({
            consumer: this.o.checkpointConsumer,
            topics: [{ topic: this.o.targetTopic, partitions: [{ partition: this.o.partition, offset: r.nextSourceOffset }] }],
          }),
        );
        await settleAll(pending);
        await commitWithRetry(txn);
        return { copied: out.length, skipped: r.skipped, bytes: r.bytes, nextSourceOffset: r.nextSourceOffset, targetBaseOffset };
      });
    } catch (err) {
      const open = txn;
      // Bounded like close(): the abort of a stuck transaction can block too; reopening fences it anyway.
      if (open?.isActive()) await settlesWithin(open.abort(), CLOSE_WAIT_MS);
      throw kafkaError(err, `copying ${this.key} of ${this.o.names.flowId}`);
    }
  }

  private async copyAtLeastOnce(producer: Producer, out: KafkaJS.Message[], r: { skipped: number; bytes: number; nextSourceOffset: string; firstSourceOffset: string | undefined }): Promise<CopyResult> {
    try {
      return await withDeadline(COPY_DEADLINE_MS, `copying ${this.key} of ${this.o.names.flowId}`, async () => {
        let targetBaseOffset: string | undefined;
        if (out.length > 0) {
          const meta = await producer.send({ topic: this.o.targetTopic, messages: out });
          targetBaseOffset = meta.find((m) => m.partition === this.o.partition)?.baseOffset ?? undefined;
          if (this.o.writeOffsetSyncs && targetBaseOffset !== undefined && r.firstSourceOffset !== undefined) {
            await producer.send({ topic: this.o.names.offsetSyncTopic, messages: [offsetSyncRecord(this.o.sourceTopic, this.o.partition, r.firstSourceOffset, targetBaseOffset)] });
          }
        }
        // Written after the copies were acknowledged: a crash in between re-copies, never skips.
        await this.o.checkpointConsumer.commitOffsets([{ topic: this.o.targetTopic, partition: this.o.partition, offset: r.nextSourceOffset }]);
        return { copied: out.length, skipped: r.skipped, bytes: r.bytes, nextSourceOffset: r.nextSourceOffset, targetBaseOffset };
      });
    } catch (err) {
      throw kafkaError(err, `copying ${this.key} of ${this.o.names.flowId}`);
    }
  }
}

/** Whether `p` settled (either way) within `ms`; it is left running if not. */
async function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const settled = p.then(
    () => true,
    () => true,
  );
  try {
    return await Promise.race([settled, new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** Runs `fn`, or rejects with a retriable TIMEOUT once `ms` have passed (what `fn` started goes on; the caller abandons it). */
async function withDeadline<T>(ms: number, what: string, fn: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new GeoError('TIMEOUT', `${what}: not done after ${ms} ms; abandoned`, { details: { timeoutMs: ms } })), ms);
  });
  const work = fn();
  // A late rejection of the abandoned work must not surface as unhandled.
  work.catch(() => undefined);
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** Like Promise.all, but waits for every promise before rejecting with the first failure (nothing is left running when the caller aborts). */
async function settleAll(ps: ReadonlyArray<Promise<unknown>>): Promise<void> {
  const results = await Promise.allSettled(ps);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

/** commitTransaction may time out while the commit still completes; retrying it is safe (librdkafka makes it idempotent). */
async function commitWithRetry(txn: KafkaJS.Transaction): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await txn.commit();
      return;
    } catch (err) {
      const e = err as { retriable?: boolean; abortable?: boolean };
      if (attempt >= 5 || !e.retriable || e.abortable) throw err;
    }
  }
}

export function offsetSyncRecord(topic: string, partition: number, sourceOffset: string, targetOffset: string): KafkaJS.Message {
  return { key: `${topic}/${partition}`, value: JSON.stringify({ topic, partition, sourceOffset, targetOffset }) };
}
