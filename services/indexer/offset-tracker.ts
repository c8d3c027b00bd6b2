/**
 * Which offsets may be committed: per partition, the offset after the longest run of records,
 * from the first one received, that are all done (indexed, found stale, or dead-lettered).
 * Records of one partition can finish out of order (they go to different bulk lanes), so a
 * record done early waits for every earlier one before its offset is committed.
 */
export interface Coordinates {
  topic: string;
  partition: number;
  offset: string;
}

interface PartitionState {
  /** Offsets received and not yet committable, in order. */
  queue: bigint[];
  head: number;
  done: Set<bigint>;
  lastReceived: bigint;
  /** Next offset to commit (last contiguous done + 1), and whether it changed since the last commit. */
  committable: bigint | undefined;
  dirty: boolean;
}

const keyOf = (topic: string, partition: number): string => `${partition}\u0000${topic}`;

export class OffsetTracker {
  private readonly partitions = new Map<string, PartitionState & { topic: string; partition: number }>();

  /**
   * Records that a record was taken in. False when it was received before (a redelivery after a
   * pause or rebalance): it is already in hand and must not be processed twice.
   */
  receive(c: Coordinates): boolean {
    const k = keyOf(c.topic, c.partition);
    const offset = BigInt(c.offset);
    let p = this.partitions.get(k);
    if (!p) {
      p = { topic: c.topic, partition: c.partition, queue: [], head: 0, done: new Set(), lastReceived: -1n, committable: undefined, dirty: false };
      this.partitions.set(k, p);
    }
    if (offset <= p.lastReceived) return false;
    p.lastReceived = offset;
    p.queue.push(offset);
    return true;
  }

  done(c: Coordinates): void {
    const p = this.partitions.get(keyOf(c.topic, c.partition));
    if (!p) return;
    p.done.add(BigInt(c.offset));
    while (p.head < p.queue.length && p.done.has(p.queue[p.head] as bigint)) {
      const o = p.queue[p.head] as bigint;
      p.done.delete(o);
      p.head++;
      p.committable = o + 1n;
      p.dirty = true;
    }
    if (p.head > 1024 && p.head * 2 > p.queue.length) {
      p.queue = p.queue.slice(p.head);
      p.head = 0;
    }
  }

  /** Offsets to commit now (each partition whose committable offset moved), marked as taken. */
  takeCommits(): Coordinates[] {
    const out: Coordinates[] = [];
    for (const p of this.partitions.values()) {
      if (p.dirty && p.committable !== undefined) {
        out.push({ topic: p.topic, partition: p.partition, offset: p.committable.toString() });
        p.dirty = false;
      }
    }
    return out;
  }

  /** Puts back commits that failed, so the next round tries them again. */
  restore(commits: readonly Coordinates[]): void {
    for (const c of commits) {
      const p = this.partitions.get(keyOf(c.topic, c.partition));
      if (p && p.committable !== undefined && p.committable <= BigInt(c.offset)) p.dirty = true;
    }
  }

  /** Records received and not yet done, per topic. */
  pending(): Map<string, number> {
    const out = new Map<string, number>();
    for (const p of this.partitions.values()) {
      const n = p.queue.length - p.head;
      out.set(p.topic, (out.get(p.topic) ?? 0) + n);
    }
    return out;
  }
}
