/**
 * The write workload: uniquely identifiable documents, updated and deleted, written through
 * every region's ingest API at a fixed total rate (open loop: a slow answer does not slow the
 * schedule, up to a bound on writes in flight per region). Every attempt is recorded with its
 * outcome, Jepsen-style:
 *
 *   acked          202: Kafka acknowledged the event; it must never be lost
 *   failed         a definite refusal (4xx): it never happened
 *   indeterminate  503, a timeout or a broken connection: it may or may not have happened
 *                  (the ingest API documents that a 503 can be followed by a late delivery)
 */
import type { WriteAccepted } from '../services/ingest/ingest-api.ts';

export type WriteOutcome = 'acked' | 'failed' | 'indeterminate';

export interface WriteRecord {
  /** Sequence number of the attempt in this workload; also written into the document as `w`. */
  n: number;
  id: string;
  op: 'upsert' | 'delete';
  region: string;
  /** Milliseconds since the load started. */
  startedAt: number;
  endedAt: number;
  outcome: WriteOutcome;
  version?: string;
  partition?: number;
  offset?: number;
  status?: number;
  error?: string;
}

export interface WorkloadOptions {
  /** Ingest API base URL per region. */
  ingest: Readonly<Record<string, string>>;
  writesPerSec: number;
  ids: number;
  deleteEvery: number;
  /** Prefix of every document id: unique per scenario run. */
  idPrefix: string;
  /** When the load started (performance.now()). */
  t0: number;
  /** Writes in flight per region beyond which a tick is skipped (and counted). */
  maxInFlight?: number;
  timeoutMs?: number;
}

export class Workload {
  readonly records: WriteRecord[] = [];
  skipped = 0;
  private seq = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly inFlight = new Map<string, number>();
  private readonly pending = new Set<Promise<void>>();
  private readonly regions: string[];

  constructor(private readonly o: WorkloadOptions) {
    this.regions = Object.keys(o.ingest);
  }

  start(): void {
    const intervalMs = 1000 / this.o.writesPerSec;
    const startedAt = performance.now();
    let issued = 0;
    // One timer drives all writes; each tick issues what the schedule says is due by now.
    this.timer = setInterval(() => {
      const due = Math.floor((performance.now() - startedAt) / intervalMs);
      for (; issued < due; issued++) this.issue();
    }, Math.max(5, Math.min(50, intervalMs)));
  }

  /** Stops issuing and waits for the writes in flight. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await Promise.all([...this.pending]);
  }

  /** Writes one document now (used by the freshness probe); resolves with its record. */
  async writeOne(region: string, id: string, body: Record<string, unknown>): Promise<WriteRecord> {
    const n = this.seq++;
    return this.write(n, region, id, 'upsert', { ...body, w: n });
  }

  private issue(): void {
    const n = this.seq++;
    const region = this.regions[n % this.regions.length] as string;
    if ((this.inFlight.get(region) ?? 0) >= (this.o.maxInFlight ?? 16)) {
      this.skipped++;
      return;
    }
    const idNum = (n * 7919) % this.o.ids;
    const op = n % this.o.deleteEvery === this.o.deleteEvery - 1 ? 'delete' : 'upsert';
    const p = this.write(n, region, `${this.o.idPrefix}-${idNum}`, op, { w: n, seq: idNum, title: `chaos write ${n} in ${region}` }).then(() => undefined);
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
  }

  private async write(n: number, region: string, id: string, op: 'upsert' | 'delete', body: Record<string, unknown>): Promise<WriteRecord> {
    const rec: WriteRecord = { n, id, op, region, startedAt: performance.now() - this.o.t0, endedAt: 0, outcome: 'indeterminate' };
    this.records.push(rec);
    this.inFlight.set(region, (this.inFlight.get(region) ?? 0) + 1);
    try {
      const res = await fetch(`${this.o.ingest[region]}/documents/${encodeURIComponent(id)}`, {
        method: op === 'delete' ? 'DELETE' : 'PUT',
        ...(op === 'upsert' ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(this.o.timeoutMs ?? 15_000),
      });
      rec.status = res.status;
      const text = await res.text();
      if (res.status === 202) {
        const a = JSON.parse(text) as WriteAccepted;
        rec.outcome = 'acked';
        rec.version = a.version;
        rec.partition = a.partition;
        rec.offset = Number(a.offset);
      } else {
        rec.outcome = res.status >= 400 && res.status < 500 ? 'failed' : 'indeterminate';
        rec.error = text.slice(0, 300);
      }
    } catch (err) {
      rec.outcome = 'indeterminate';
      rec.error = (err as Error).message;
    } finally {
      rec.endedAt = performance.now() - this.o.t0;
      this.inFlight.set(region, (this.inFlight.get(region) ?? 1) - 1);
    }
    return rec;
  }
}
