/**
 * Stage timestamps from inside the indexer without editing it: in the indexer's process, two
 * prototypes are wrapped while the benchmark runs.
 * - `Indexer.prototype.onBatch` (private in TypeScript, a plain method at run time): when a
 *   batch from the consumer is taken in;
 * - `BulkWriter.prototype.write`: when the bulk holding a document is sent and when OpenSearch
 *   answered it (retries included), plus every bulk's size and duration.
 * Only sampled documents of the watched run are recorded (a key parse and an array write each).
 */
import type { KafkaJS } from '../../core/kafka.ts';
import type { BulkItem } from '../../services/indexer/bulk-writer.ts';
import { BulkWriter } from '../../services/indexer/bulk-writer.ts';
import { Indexer } from '../../services/indexer/indexer.ts';
import { wallNow } from '../support/kafka-bench.ts';
import { round } from '../support/stats.ts';
import { seqOf } from './documents.ts';
import type { ProbeWatch } from './kafka-probe.ts';

type AnyFn = (this: unknown, ...args: unknown[]) => unknown;

function wrap(proto: object, name: string, make: (orig: AnyFn) => AnyFn): () => void {
  const rec = proto as Record<string, unknown>;
  const orig = rec[name];
  if (typeof orig !== 'function') throw new Error(`cannot instrument ${name}: not a method (the indexer changed; update bench/freshness/indexer-trace.ts)`);
  rec[name] = make(orig as AnyFn);
  return () => {
    rec[name] = orig;
  };
}

export interface BulkRecord {
  /** Wall ms when the bulk was sent. */
  at: number;
  ms: number;
  docs: number;
  bytes: number;
}

export interface IndexerTraceResult {
  /** Per sampled document: batch taken in, bulk sent, bulk answered (wall ms), null if not seen. */
  takenInAt: Array<number | null>;
  bulkStartAt: Array<number | null>;
  bulkEndAt: Array<number | null>;
  bulks: BulkRecord[];
}

export class IndexerTrace {
  private watch: ProbeWatch | undefined;
  private takenIn = new Float64Array(0);
  private bulkStart = new Float64Array(0);
  private bulkEnd = new Float64Array(0);
  private bulks: BulkRecord[] = [];

  install(): () => void {
    // The wrappers keep their own `this` (the indexer, the bulk writer); these reach the trace.
    const takenIn = (messages: KafkaJS.KafkaMessage[]): void => this.takenInBatch(messages);
    const bulkDone = (items: readonly BulkItem[], at: number, end: number): void => this.bulkDone(items, at, end);
    const undo = [
      wrap(Indexer.prototype, 'onBatch', (orig) =>
        function (this: unknown, ...args: unknown[]) {
          const payload = args[0] as KafkaJS.EachBatchPayload;
          takenIn(payload.batch.messages);
          return orig.apply(this, args);
        },
      ),
      wrap(BulkWriter.prototype, 'write', (orig) =>
        async function (this: unknown, ...args: unknown[]) {
          const items = args[0] as readonly BulkItem[];
          const at = wallNow();
          try {
            return await (orig.apply(this, args));
          } finally {
            bulkDone(items, at, wallNow());
          }
        },
      ),
    ];
    return () => {
      for (const u of undo.reverse()) u();
    };
  }

  startWatch(w: ProbeWatch): void {
    this.watch = w;
    const n = Math.ceil(w.count / w.sampleEvery);
    this.takenIn = new Float64Array(n).fill(Number.NaN);
    this.bulkStart = new Float64Array(n).fill(Number.NaN);
    this.bulkEnd = new Float64Array(n).fill(Number.NaN);
    this.bulks = [];
  }

  collect(): IndexerTraceResult {
    const nullable = (a: Float64Array): Array<number | null> => Array.from(a, (x) => (Number.isNaN(x) ? null : round(x, 3)));
    return { takenInAt: nullable(this.takenIn), bulkStartAt: nullable(this.bulkStart), bulkEndAt: nullable(this.bulkEnd), bulks: this.bulks };
  }

  private indexOf(id: string): number {
    const w = this.watch;
    if (!w) return -1;
    const seq = seqOf(w.tag, id);
    return seq < 0 || seq % w.sampleEvery !== 0 || seq >= w.count ? -1 : seq / w.sampleEvery;
  }

  private takenInBatch(messages: KafkaJS.KafkaMessage[]): void {
    if (!this.watch) return;
    const at = wallNow();
    for (const m of messages) {
      const k = m.key ? this.indexOf(m.key.toString('latin1')) : -1;
      if (k >= 0 && Number.isNaN(this.takenIn[k])) this.takenIn[k] = at;
    }
  }

  private bulkDone(items: readonly BulkItem[], at: number, end: number): void {
    if (!this.watch) return;
    let bytes = 0;
    for (const item of items) {
      bytes += item.bytes;
      const k = this.indexOf(item.event.id);
      if (k >= 0 && Number.isNaN(this.bulkStart[k])) {
        this.bulkStart[k] = at;
        this.bulkEnd[k] = end;
      }
    }
    this.bulks.push({ at: round(at, 3), ms: round(end - at, 2), docs: items.length, bytes });
  }
}
