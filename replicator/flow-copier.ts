/**
 * Copies a flow's source partitions to the same partitions of their target copies. In
 * exactly-once mode one copy is one transaction on the target cluster, across every partition
 * that has records waiting: the copies, their offset-sync records and the checkpoints (the next
 * source offset of each partition, as a transactional offset commit of the checkpoint group).
 * After any crash each partition resumes exactly after the last commit.
 *
 * One transactional producer per flow and process, not per partition: a transaction costs the
 * target broker about the same whatever it holds, so spanning the partitions divides that cost by
 * their number. Zombies are fenced by the checkpoint group's generation instead (KIP-447): the
 * offset commit carries the group metadata of this process's member, and the target's group
 * coordinator refuses it once the member's partitions have moved. Each checkpoint also names
 * the transactional id that wrote it, so that a partition's next owner can fence the previous
 * owner's producer at once and settle a transaction it left open.
 */
import { randomBytes } from 'node:crypto';
import { GeoError } from '../core/errors.ts';
import { kafkaError } from '../core/kafka.ts';
import type { Logger } from '../core/logger.ts';
import type { CheckpointMember } from './checkpoint-member.ts';
import { CopyProducer } from './copy-producer.ts';
import type { FlowNames } from './names.ts';
import { listIsReplicated, ProvenanceStamp } from './provenance.ts';
import type { SourceRecord } from './source-reader.ts';

export type CopyMode = 'exactly-once' | 'at-least-once';

export interface CopierOptions {
  names: FlowNames;
  sourceRegion: string;
  targetRegion: string;
  mode: CopyMode;
  /** identity naming: skip records that already arrived by replication. */
  skipReplicated: boolean;
  /** The target cluster's bootstrap, for the copy producer and for fencing. */
  targetBootstrap: readonly string[];
  /** This process's member of the checkpoint group on the target cluster: its group metadata fences the offset commits. */
  member: CheckpointMember;
  log: Logger;
}

/** One partition's share of a copy: consecutive records, in source order. */
export interface CopyPart {
  sourceTopic: string;
  targetTopic: string;
  partition: number;
  messages: readonly SourceRecord[];
  /** Off for the heartbeat topic: one sync a second per flow would bloat the sync topic, and nobody fails a group over on heartbeats. */
  writeOffsetSyncs: boolean;
}

export interface CopyResult {
  copied: number;
  skipped: number;
  bytes: number;
  nextSourceOffset: string;
  targetBaseOffset: number | undefined;
}

/** A copy that failed, and the part whose records the target refused, when one did. */
export class CopyFailure extends Error {
  constructor(
    readonly error: GeoError,
    readonly partIndex: number | undefined,
  ) {
    super(error.message, { cause: error });
  }
}

/** A checkpoint to (re)write with this process as its owner. */
export interface Claim {
  targetTopic: string;
  partition: number;
  offset: string;
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
/** The broker aborts a transaction left open this long (a dead owner that nobody could fence). */
const TRANSACTION_TIMEOUT_MS = 60_000;
const SEND_OFFSETS_TIMEOUT_MS = 10_000;
const COMMIT_TIMEOUT_MS = 10_000;
const ABORT_TIMEOUT_MS = 10_000;

/** The copier producer's settings. Exported for the benchmarks' plain-client ceiling. */
export const COPIER_PRODUCER = Object.freeze({
  'linger.ms': 5,
  'batch.size': 1_000_000,
  'compression.type': 'lz4',
  'queue.buffering.max.messages': 500_000,
  'message.max.bytes': 64 * 1024 * 1024,
  'message.timeout.ms': MESSAGE_TIMEOUT_MS,
  // A transaction begun right after the previous commit often gets CONCURRENT_TRANSACTIONS while
  // the coordinator still writes the markers, and librdkafka retries it after retry.backoff.ms
  // (100 ms by default): measured at 1,000 records/s, sendOffsets p99 121-125 ms with it, 15-30
  // ms at 10 ms (docs/BENCHMARKS.md, 2026-12-06). Kafka's Java producer has backed off 20 ms in
  // that case since KAFKA-5477. Backoff grows from here to retry.backoff.max.ms (1 s) on repeats.
  'retry.backoff.ms': 10,
});

/** Kafka error codes that mean the copy can never succeed as configured: stop the partition, do not skip. */
const POISON_CODES = new Set([10 /* MSG_SIZE_TOO_LARGE */, 18 /* RECORD_LIST_TOO_LARGE */, 87 /* INVALID_RECORD */, 2 /* CORRUPT_MESSAGE */]);
/** Another process initialised our transactional id (the new owner of partitions we had): the copy in flight is lost; reopen and go on. */
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
 * is unusable and must be reopened. The flow treats it like fencing.
 */
export function isFatal(err: unknown): boolean {
  const e = err as { fatal?: unknown; details?: { fatal?: unknown }; cause?: { fatal?: unknown } };
  return e.fatal === true || e.details?.fatal === true || e.cause?.fatal === true || kafkaCodeOf(err) === -150;
}

export function isPoison(err: unknown): boolean {
  const code = kafkaCodeOf(err);
  return typeof code === 'number' && POISON_CODES.has(code);
}

export class FlowCopier {
  private producer: CopyProducer | undefined;
  /** Writes the offset syncs, outside the copies' transactions. */
  private syncProducer: CopyProducer | undefined;
  private readonly o: CopierOptions;
  /** Unique per process and flow: no other process ever initialises it, so nobody fences us by accident. */
  readonly transactionalId: string;
  /** Provenance headers per source partition, built once. */
  private readonly stamps = new Map<string, ProvenanceStamp>();

  constructor(o: CopierOptions) {
    this.o = o;
    this.transactionalId = o.names.transactionalId(randomBytes(6).toString('hex'));
  }

  /** The copy producer's librdkafka settings (a method, so that the benchmarks can override some). */
  producerSettings(): Record<string, string | number | boolean> {
    return { ...COPIER_PRODUCER };
  }

  /** Connects the producer; with transactions this initialises the id, which settles any transaction it left open. */
  async open(): Promise<void> {
    const eos = this.o.mode === 'exactly-once';
    try {
      this.producer = await CopyProducer.open({
        bootstrap: this.o.targetBootstrap,
        clientId: this.o.names.flowId,
        transactionalId: eos ? this.transactionalId : undefined,
        transactionTimeoutMs: TRANSACTION_TIMEOUT_MS,
        settings: this.producerSettings(),
        log: this.o.log,
      });
    } catch (err) {
      throw kafkaError(err, `opening the ${eos ? 'transactional ' : ''}producer of ${this.o.names.flowId}`);
    }
    if (this.syncProducer) return;
    try {
      this.syncProducer = await CopyProducer.open({
        bootstrap: this.o.targetBootstrap,
        clientId: `${this.o.names.flowId}-offset-syncs`,
        transactionalId: undefined,
        transactionTimeoutMs: TRANSACTION_TIMEOUT_MS,
        settings: { ...this.producerSettings(), 'linger.ms': 50 },
        onRefused: (err) => this.o.log.warn({ err: err.message }, 'offset sync not written; translation scans from an earlier one'),
        log: this.o.log,
      });
    } catch (err) {
      await this.close();
      throw kafkaError(err, `opening the offset-sync producer of ${this.o.names.flowId}`);
    }
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
    const closed = await p.close(CLOSE_WAIT_MS);
    if (!closed) this.o.log.warn({ waitedMs: CLOSE_WAIT_MS }, 'producer still closing; going on without it (the next one fences it)');
  }

  /** Closes both producers: on shutdown (close() alone reopens only the transactional one after a failed copy). */
  async shutdown(): Promise<void> {
    await this.close();
    const s = this.syncProducer;
    this.syncProducer = undefined;
    // Flushes the last offset syncs (it waits for their deliveries, up to the bound).
    await s?.close(CLOSE_WAIT_MS);
  }

  /**
   * Fences other processes' producers of this flow (the previous owners of partitions just
   * assigned to us): initialising their transactional ids aborts whatever transaction they
   * left open, which would otherwise hold back every read_committed reader of those partitions
   * until it timed out. A live owner loses only its copy in flight; it reopens and goes on.
   */
  async fence(ids: readonly string[]): Promise<void> {
    const others = [...new Set(ids)].filter((id) => id !== this.transactionalId && id.startsWith(this.o.names.transactionalIdPrefix));
    await Promise.all(
      others.map(async (id) => {
        // Opening a producer with their id initialises it, which is the fencing. The copy producer
        // (not the compat one) because its close waits for an initialisation still in flight: a
        // destroy under it aborts the process inside librdkafka.
        const opening = CopyProducer.open({ bootstrap: this.o.targetBootstrap, clientId: `${this.o.names.flowId}-fence`, transactionalId: id, transactionTimeoutMs: TRANSACTION_TIMEOUT_MS, settings: {}, log: this.o.log });
        try {
          await withDeadline(COPY_DEADLINE_MS, `fencing ${id}`, () => opening);
          this.o.log.info({ fenced: id }, 'fenced the previous owner of assigned partitions');
        } catch (err) {
          throw kafkaError(err, `fencing ${id}, the previous owner of partitions of ${this.o.names.flowId}`);
        } finally {
          // Closed whenever it opens, also after the deadline passed.
          await settlesWithin(
            opening.then((p) => p.close(CLOSE_WAIT_MS)),
            CLOSE_WAIT_MS,
          );
        }
      }),
    );
  }

  /** Rewrites these checkpoints (unchanged offsets) as ours, in one transaction, so that whoever owns them next knows whom to fence. */
  async claim(claims: readonly Claim[]): Promise<void> {
    const producer = this.ready();
    if (claims.length === 0 || this.o.mode !== 'exactly-once') return;
    let open = false;
    try {
      await withDeadline(COPY_DEADLINE_MS, `claiming partitions of ${this.o.names.flowId}`, async () => {
        await producer.begin();
        open = true;
        await this.sendCheckpoints(producer, claims);
        await commitWithRetry(producer);
        open = false;
      });
    } catch (err) {
      if (open) await settlesWithin(producer.abort(ABORT_TIMEOUT_MS), CLOSE_WAIT_MS);
      throw kafkaError(err, `claiming partitions of ${this.o.names.flowId}`);
    }
  }

  /** Copies every part as one unit and returns a result per part; on failure throws a CopyFailure, having aborted. */
  async copy(parts: readonly CopyPart[]): Promise<CopyResult[]> {
    const producer = this.ready();
    return this.o.mode === 'at-least-once' ? this.copyAtLeastOnce(producer, parts) : this.copyInTransaction(producer, parts);
  }

  private ready(): CopyProducer {
    if (!this.producer) throw new GeoError('INTERNAL', `copier of ${this.o.names.flowId} used before open()`);
    return this.producer;
  }

  private stamp(part: CopyPart): ProvenanceStamp {
    const k = partKey(part);
    let st = this.stamps.get(k);
    if (!st) this.stamps.set(k, (st = new ProvenanceStamp({ region: this.o.sourceRegion, topic: part.sourceTopic, partition: part.partition }, this.o.targetRegion)));
    return st;
  }

  /**
   * Hands every part's copies to the producer, with their provenance. awaitCopies then waits for
   * their delivery reports: the lowest target offset of each part (for its offset sync) or the
   * refusal, attributed to its part. Two steps, so that a transaction's offset commit can go
   * while its copies are delivered.
   */
  private async sendCopies(producer: CopyProducer, parts: readonly CopyPart[]): Promise<Sent> {
    await producer.track();
    const sent: Sent = { counts: [], firstSourceOffsets: [], bases: [] };
    for (const part of parts) {
      const stamp = this.stamp(part);
      const skip = this.o.skipReplicated;
      let copied = 0;
      let skipped = 0;
      let bytes = 0;
      let first: number | undefined;
      for (const m of part.messages) {
        if (skip && listIsReplicated(m.headers)) {
          skipped++;
          continue;
        }
        first ??= m.offset;
        bytes += (m.value?.length ?? 0) + (m.key?.length ?? 0);
        const headers = stamp.headers(m.offset, m.headers);
        while (!producer.tryProduce(part.targetTopic, part.partition, m.value, m.key, m.timestamp, headers)) await producer.room();
        copied++;
      }
      sent.counts.push({ copied, skipped, bytes });
      sent.firstSourceOffsets.push(first);
    }
    return sent;
  }

  private async awaitCopies(producer: CopyProducer, parts: readonly CopyPart[], sent: Sent): Promise<Sent> {
    const d = await producer.delivered();
    const refused = d.error;
    if (refused) {
      const i = parts.findIndex((p) => `${p.targetTopic}/${p.partition}` === refused.key);
      const poisoned = i >= 0 && isPoison(refused.error);
      throw new CopyFailure(kafkaError(refused.error, `copying ${i >= 0 ? partKey(parts[i] as CopyPart) : refused.key} of ${this.o.names.flowId}`), poisoned ? i : undefined);
    }
    sent.bases = parts.map((p) => d.firstOffset.get(`${p.targetTopic}/${p.partition}`));
    return sent;
  }

  /**
   * The offset syncs of a copy that is committed (or, at least once, acknowledged): first source
   * offset ↔ its target offset, per part. Through a producer of their own, outside the copy's
   * transaction and off its critical path: a sync is a starting point for the translation's scan,
   * which is exact whatever the sync, so a sync lost in a crash only makes a scan longer.
   */
  private sendSyncs(parts: readonly CopyPart[], sent: Sent): void {
    const producer = this.syncProducer;
    if (!producer) return;
    parts.forEach((part, i) => {
      const first = sent.firstSourceOffsets[i];
      const base = sent.bases[i];
      if (!part.writeOffsetSyncs || base === undefined || first === undefined) return;
      const sync = offsetSyncRecord(part.sourceTopic, part.partition, String(first), String(base));
      if (!producer.tryProduce(this.o.names.offsetSyncTopic, -1, Buffer.from(sync.value), sync.key, undefined, undefined)) this.o.log.warn({ partition: partKey(part) }, 'offset sync not written: its producer is full; translation scans from an earlier one');
    });
  }

  private results(parts: readonly CopyPart[], sent: Sent): CopyResult[] {
    return parts.map((part, i) => {
      const c = sent.counts[i] as { copied: number; skipped: number; bytes: number };
      const last = part.messages[part.messages.length - 1];
      if (!last) throw new GeoError('INTERNAL', 'empty part');
      return { ...c, nextSourceOffset: String(last.offset + 1), targetBaseOffset: sent.bases[i] };
    });
  }

  private async copyInTransaction(producer: CopyProducer, parts: readonly CopyPart[]): Promise<CopyResult[]> {
    let open = false;
    try {
      return await withDeadline(COPY_DEADLINE_MS, `copying ${parts.length} partitions of ${this.o.names.flowId}`, async () => {
        await producer.begin();
        open = true;
        const queued = await this.sendCopies(producer, parts);
        // The checkpoints need no target offset: they go while the copies are delivered, and the
        // commit waits for both. In sequence they cost the offset commit's round trips again.
        const checkpoints = parts.map((part) => ({ targetTopic: part.targetTopic, partition: part.partition, offset: String((part.messages[part.messages.length - 1]?.offset ?? -1) + 1) }));
        const [sent] = await settleAll([this.awaitCopies(producer, parts, queued), this.sendCheckpoints(producer, checkpoints)]);
        await commitWithRetry(producer);
        open = false;
        this.sendSyncs(parts, sent);
        return this.results(parts, sent);
      });
    } catch (err) {
      // Bounded like close(): the abort of a stuck transaction can block too; reopening fences it anyway.
      if (open) await settlesWithin(producer.abort(ABORT_TIMEOUT_MS), CLOSE_WAIT_MS);
      throw err instanceof CopyFailure ? err : new CopyFailure(kafkaError(err, `copying ${parts.length} partitions of ${this.o.names.flowId}`), undefined);
    }
  }

  private async copyAtLeastOnce(producer: CopyProducer, parts: readonly CopyPart[]): Promise<CopyResult[]> {
    try {
      return await withDeadline(COPY_DEADLINE_MS, `copying ${parts.length} partitions of ${this.o.names.flowId}`, async () => {
        const sent = await this.awaitCopies(producer, parts, await this.sendCopies(producer, parts));
        // Written after the copies were acknowledged: a crash in between re-copies, never skips.
        // The member's generation still guards it: a process that lost the partitions cannot move their checkpoints.
        const results = this.results(parts, sent);
        await this.o.member.commit(parts.map((part, i) => ({ topic: part.targetTopic, partition: part.partition, offset: (results[i] as CopyResult).nextSourceOffset })));
        this.sendSyncs(parts, sent);
        return results;
      });
    } catch (err) {
      throw err instanceof CopyFailure ? err : new CopyFailure(kafkaError(err, `copying ${parts.length} partitions of ${this.o.names.flowId}`), undefined);
    }
  }

  /**
   * The transactional offset commit of the checkpoints, with the member's group metadata (the
   * coordinator refuses it from a member whose generation is stale) and our transactional id as
   * each offset's metadata. Through the binding's own call: the KafkaJS-compatible sendOffsets
   * drops offset metadata.
   */
  private sendCheckpoints(producer: CopyProducer, claims: readonly Claim[]): Promise<void> {
    const consumer = this.o.member.client();
    const offsets = claims.map((c) => ({ topic: c.targetTopic, partition: c.partition, offset: Number(c.offset), metadata: this.transactionalId }));
    return producer.sendOffsets(offsets, consumer, SEND_OFFSETS_TIMEOUT_MS);
  }
}

/** What sendCopies handed over, per part. */
interface Sent {
  counts: Array<{ copied: number; skipped: number; bytes: number }>;
  firstSourceOffsets: Array<number | undefined>;
  /** The target offset of each part's first copy (undefined: nothing copied). */
  bases: Array<number | undefined>;
}

function partKey(p: CopyPart): string {
  return `${p.sourceTopic}/${p.partition}`;
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
async function settleAll<T extends readonly unknown[]>(ps: { [K in keyof T]: Promise<T[K]> }): Promise<T> {
  const results = await Promise.allSettled(ps);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  return results.map((r) => (r as PromiseFulfilledResult<unknown>).value) as unknown as T;
}

/** commitTransaction may time out while the commit still completes; retrying it is safe (librdkafka makes it idempotent). */
async function commitWithRetry(producer: CopyProducer): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await producer.commit(COMMIT_TIMEOUT_MS);
      return;
    } catch (err) {
      const e = err as { retriable?: boolean; abortable?: boolean };
      if (attempt >= 5 || !e.retriable || e.abortable) throw err;
    }
  }
}

export function offsetSyncRecord(topic: string, partition: number, sourceOffset: string, targetOffset: string): { key: string; value: string } {
  return { key: `${topic}/${partition}`, value: JSON.stringify({ topic, partition, sourceOffset, targetOffset }) };
}
