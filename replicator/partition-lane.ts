/**
 * The records of one source partition that were fetched but are not yet in a committed copy.
 *
 * The flow's consumer hands over batches and moves on at once; the partition's copy loop takes
 * everything queued (up to one transaction's worth) into its next copy. So a slow transaction
 * on one partition never holds up the fetching of the others (the compat consumer otherwise
 * fetches in rounds, each as slow as its slowest partition), and while one copy is in flight the
 * next one's records accumulate: copies grow with the rate instead of lagging behind it.
 *
 * The lane also guards the order of what it is given. Records at or before the newest one it
 * already took are dropped (a redelivery must never be copied twice). After a rewind to the
 * checkpoint, the first batch must start no later than the first record of the copy that
 * failed: one that starts later was fetched before the rewind, and taking it would skip
 * records, so the flow seeks again instead. Pure logic: the flow owns the consumer.
 */
import type { KafkaJS } from '@confluentinc/kafka-javascript';

export interface LaneLimits {
  /** One copy (transaction) holds at most this many records… */
  maxRecords: number;
  /** …and at most this many bytes of keys and values (at least one record, whatever its size). */
  maxBytes: number;
}

export type Offer =
  /** New records were queued; resolve the batch up to `lastOffset`. */
  | { kind: 'queued'; added: number; lastOffset: string }
  /** Nothing new (all already taken); resolve the batch, it is accounted for. */
  | { kind: 'duplicate'; lastOffset: string }
  /** Fetched before a rewind: do not take it, seek to `seekTo` again. */
  | { kind: 'stale'; seekTo: string; attempts: number };

/** Consecutive stale offers after which the lane accepts what it gets: the source deleted the records in between (retention) before they could be copied. */
export const STALE_LIMIT = 5;

export class PartitionLane {
  private queue: KafkaJS.KafkaMessage[] = [];
  private queuedBytes = 0;
  /** The newest offset taken in since the last reset (queued, in a copy, or copied). */
  private newest: bigint | undefined;
  /** After a rewind: the first accepted batch must start at or before this offset. */
  private startBy: bigint | undefined;
  private restartFrom: string | undefined;
  private staleOffers = 0;
  /** The records the source had skipped when it started later than it should have (truncated by retention). */
  truncated: { from: string; to: string } | undefined;

  constructor(private readonly limits: LaneLimits) {}

  /**
   * (Re)starts the lane at `next`, the next source offset to copy (the checkpoint; undefined:
   * the partition's beginning), dropping anything queued. `failedFrom` is the first offset of
   * the copy that failed, when this is a rewind: a record that exists at or after `next`.
   */
  reset(next: string | undefined, failedFrom?: string): void {
    this.queue = [];
    this.queuedBytes = 0;
    this.newest = next === undefined ? undefined : BigInt(next) - 1n;
    this.restartFrom = next;
    const f = failedFrom === undefined ? undefined : BigInt(failedFrom);
    // If the failed copy's commit did land after all (an unknown outcome), the checkpoint is past it: no bound is known.
    this.startBy = f !== undefined && (next === undefined || f >= BigInt(next)) ? f : undefined;
    this.staleOffers = 0;
  }

  offer(messages: readonly KafkaJS.KafkaMessage[]): Offer | undefined {
    const first = messages[0];
    const last = messages[messages.length - 1];
    if (!first || !last) return undefined;
    if (this.startBy !== undefined && BigInt(first.offset) > this.startBy) {
      this.staleOffers++;
      if (this.staleOffers < STALE_LIMIT) return { kind: 'stale', seekTo: this.restartFrom ?? '-2', attempts: this.staleOffers };
      this.truncated = { from: this.restartFrom ?? '0', to: String(BigInt(first.offset) - 1n) };
    }
    this.startBy = undefined;
    this.staleOffers = 0;
    const newest = this.newest;
    const fresh = newest === undefined ? messages : messages.filter((m) => BigInt(m.offset) > newest);
    if (fresh.length === 0) return { kind: 'duplicate', lastOffset: last.offset };
    for (const m of fresh) {
      this.queue.push(m);
      this.queuedBytes += sizeOf(m);
    }
    this.newest = BigInt(last.offset);
    return { kind: 'queued', added: fresh.length, lastOffset: last.offset };
  }

  /** Removes and returns the next copy's records (empty when nothing is queued). */
  take(): KafkaJS.KafkaMessage[] {
    let n = 0;
    let bytes = 0;
    while (n < this.queue.length && n < this.limits.maxRecords) {
      const size = sizeOf(this.queue[n] as KafkaJS.KafkaMessage);
      if (n > 0 && bytes + size > this.limits.maxBytes) break;
      bytes += size;
      n++;
    }
    this.queuedBytes -= bytes;
    return this.queue.splice(0, n);
  }

  /** Where fetching goes on: after the newest record taken in (undefined: not known yet). */
  nextOffset(): string | undefined {
    return this.newest === undefined ? undefined : String(this.newest + 1n);
  }

  get records(): number {
    return this.queue.length;
  }

  get bytes(): number {
    return this.queuedBytes;
  }

  /** More than two copies' worth waits: the flow pauses fetching this partition. */
  get full(): boolean {
    return this.queue.length >= 2 * this.limits.maxRecords || this.queuedBytes >= 2 * this.limits.maxBytes;
  }

  /** Less than one copy's worth waits: fetching may resume. */
  get drained(): boolean {
    return this.queue.length < this.limits.maxRecords && this.queuedBytes < this.limits.maxBytes;
  }
}

function sizeOf(m: KafkaJS.KafkaMessage): number {
  return (m.value?.length ?? 0) + (m.key?.length ?? 0);
}
