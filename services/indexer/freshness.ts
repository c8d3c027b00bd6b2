/**
 * How far behind each source region the index is, in ms. Two parts, the larger wins:
 *
 * - the copy: age of the newest heartbeat replicated from that region (replicator/heartbeats.ts
 *   FreshnessTracker). 0 for the local region, whose topic is not a copy;
 * - the indexer itself: while records from that region are taken in but not yet indexed, the
 *   age of the oldest of them; while the consumer reports more records to read (offset lag),
 *   the age of the newest event indexed.
 *
 * A reported lag counts only while batches keep coming (or the consumer is paused): the copies
 * are written in transactions, so a partition read to its end still shows a lag of one or more
 * (the commit markers after the last record), and no further batch comes to clear it. Without
 * this, every quiet copy would look as stale as the time since its last document.
 *
 * Unknown (null) for a remote region until its first heartbeat arrives.
 */
export interface SourceFreshness {
  /** How far behind the index is, in ms; null while unknown. */
  freshnessMs: number | null;
  /** Age of the newest replicated heartbeat from the source; 0 for the local region, null before the first. */
  heartbeatAgeMs: number | null;
  /** `ts` of the newest event from this source applied to the index (indexed or found stale). */
  lastIndexedEventAt: string | null;
  /** Records taken in and not yet applied. */
  pendingRecords: number;
  /** The consumer reports records not yet read on this source's partitions. */
  behind: boolean;
}

interface SourceState {
  pending: number;
  oldestPendingMs: number | undefined;
  lastIndexedMs: number | undefined;
  lagByPartition: Map<string, { behind: boolean; at: number }>;
}

/** A partition with no batch for this long, while not paused, has nothing more to read. */
export const IDLE_PARTITION_MS = 2_000;

export class IndexFreshness {
  private readonly sources = new Map<string, SourceState>();

  constructor(
    private readonly o: {
      region: string;
      sources: readonly string[];
      heartbeatAgeMs: () => Record<string, number>;
      /** The consumer is paused (search down, back-pressure): no batches come, and a lag stays real. */
      paused?: () => boolean;
    },
  ) {
    for (const s of o.sources) this.sources.set(s, { pending: 0, oldestPendingMs: undefined, lastIndexedMs: undefined, lagByPartition: new Map() });
  }

  received(source: string, eventMs: number): void {
    const s = this.sources.get(source);
    if (!s) return;
    if (s.pending === 0) s.oldestPendingMs = eventMs;
    s.pending++;
  }

  applied(source: string, eventMs: number | undefined): void {
    const s = this.sources.get(source);
    if (!s) return;
    s.pending = Math.max(0, s.pending - 1);
    if (s.pending === 0) s.oldestPendingMs = undefined;
    if (eventMs !== undefined && eventMs > (s.lastIndexedMs ?? 0)) s.lastIndexedMs = eventMs;
  }

  lag(source: string, topic: string, partition: number, behind: boolean, now = Date.now()): void {
    this.sources.get(source)?.lagByPartition.set(`${topic}/${partition}`, { behind, at: now });
  }

  snapshot(now = Date.now()): Record<string, SourceFreshness> {
    const beats = this.o.heartbeatAgeMs();
    const out: Record<string, SourceFreshness> = {};
    for (const [source, s] of this.sources) {
      const heartbeatAgeMs = source === this.o.region ? 0 : (beats[source] ?? null);
      const paused = this.o.paused?.() ?? false;
      const behind = [...s.lagByPartition.values()].some((l) => l.behind && (paused || now - l.at < IDLE_PARTITION_MS));
      const pendingAge = s.oldestPendingMs !== undefined ? Math.max(0, now - s.oldestPendingMs) : 0;
      const behindAge = behind && s.lastIndexedMs !== undefined ? Math.max(0, now - s.lastIndexedMs) : 0;
      out[source] = {
        freshnessMs: heartbeatAgeMs === null ? null : Math.max(heartbeatAgeMs, pendingAge, behindAge),
        heartbeatAgeMs,
        lastIndexedEventAt: s.lastIndexedMs !== undefined ? new Date(s.lastIndexedMs).toISOString() : null,
        pendingRecords: s.pending,
        behind,
      };
    }
    return out;
  }
}
