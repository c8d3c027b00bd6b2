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
 * records, so the flow seeks again instead. Only the source can say that records were deleted
 * in between (its log start offset is past them): the flow asks it, and tells the lane.
 * Pure logic: the flow owns the consumer.
 */
import type { SourceRecord } from './source-reader.ts';

export interface LaneLimits {
  /** One copy (transaction) holds at most this many records… */
  maxRecords: number;
  /** …and at most this many bytes of keys and values (at least one record, whatever its size). */
  maxBytes: number;
}

export type Offer =
  /** New records were queued; resolve the batch up to `lastOffset`. */
  | { kind: 'queued'; added: number; lastOffset: number }
  /** Nothing new (all already taken); resolve the batch, it is accounted for. */
  | { kind: 'duplicate'; lastOffset: number }
  /** Fetched before a rewind: do not take it, seek to `seekTo` again. */
  | { kind: 'stale'; seekTo: string; attempts: number };

/** Every this many consecutive stale offers, the flow asks the source whether retention deleted the records in between. */
export const STALE_CHECK_EVERY = 5;

export class PartitionLane {
  private queue: SourceRecord[] = [];
  private queuedBytes = 0;
  /** The newest offset taken in since the last reset (queued, in a copy, or copied). */
  private newest: number | undefined;
  /** After a rewind: the first accepted batch must start at or before this offset. */
  private startBy: number | undefined;
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
  reset(next: string | undefined, failedFrom?: number): void {
    this.queue = [];
    this.queuedBytes = 0;
    this.newest = next === undefined ? undefined : Number(next) - 1;
    this.restartFrom = next;
    // If the failed copy's commit did land after all (an unknown outcome), the checkpoint is past it: no bound is known.
    this.startBy = failedFrom !== undefined && (next === undefined || failedFrom >= Number(next)) ? failedFrom : undefined;
    this.staleOffers = 0;
  }

  offer(messages: readonly SourceRecord[]): Offer | undefined {
    const first = messages[0];
    const last = messages[messages.length - 1];
    if (!first || !last) return undefined;
    if (this.startBy !== undefined && first.offset > this.startBy) {
      this.staleOffers++;
      return { kind: 'stale', seekTo: this.restartFrom ?? '-2', attempts: this.staleOffers };
    }
    this.startBy = undefined;
    this.staleOffers = 0;
    const newest = this.newest;
    // A batch is in offset order: skip its head up to what was already taken in.
    let from = 0;
    if (newest !== undefined) while (from < messages.length && (messages[from] as SourceRecord).offset <= newest) from++;
    if (from === messages.length) return { kind: 'duplicate', lastOffset: last.offset };
    for (let i = from; i < messages.length; i++) {
      const m = messages[i] as SourceRecord;
      this.queue.push(m);
      this.queuedBytes += sizeOf(m);
    }
    this.newest = last.offset;
    return { kind: 'queued', added: messages.length - from, lastOffset: last.offset };
  }

  /**
   * The source's log start offset, asked after stale offers. When it is past the rewind
   * point, retention deleted the records in between before they were copied: the lane goes on
   * from it (and says so in `truncated`), and returns where to fetch from. Otherwise undefined:
   * the records exist, keep seeking.
   */
  sourceStartsAt(low: number): string | undefined {
    if (this.startBy === undefined || low <= this.startBy) return undefined;
    this.truncated = { from: this.restartFrom ?? '0', to: String(low - 1) };
    this.startBy = low;
    this.newest = low - 1;
    this.restartFrom = String(low);
    this.staleOffers = 0;
    return this.restartFrom;
  }

  /** Removes and returns the next copy's records (empty when nothing is queued). */
  take(): SourceRecord[] {
    let n = 0;
    let bytes = 0;
    while (n < this.queue.length && n < this.limits.maxRecords) {
      const size = sizeOf(this.queue[n] as SourceRecord);
      if (n > 0 && bytes + size > this.limits.maxBytes) break;
      bytes += size;
      n++;
    }
    this.queuedBytes -= bytes;
    return this.queue.splice(0, n);
  }

  /** Where fetching goes on: after the newest record taken in (undefined: not known yet). */
  nextOffset(): string | undefined {
    return this.newest === undefined ? undefined : String(this.newest + 1);
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

function sizeOf(m: SourceRecord): number {
  return (m.value?.length ?? 0) + (m.key?.length ?? 0);
}
