/**
 * A stage probe: when does each sampled document's event become readable (read_committed) from
 * the topic its region's indexer consumes? Locally that is the documents topic (visible once the
 * ingest's write is acknowledged); in a remote region it is the copy `us-east.<documents>`
 * (visible once the replicator's transaction commits). One consumer per region in a group of its
 * own, short fetch waits, only the key is looked at. Runs in a process of its own
 * (probe-child.ts); its answer only splits the latency into stages, it is not part of it.
 */
import type { KafkaJS } from '../../core/kafka.ts';
import type { Consumer } from '../../core/kafka.ts';
import { kafkaClient } from '../../core/kafka.ts';
import type { Logger } from '../../core/logger.ts';
import { wallNow } from '../support/kafka-bench.ts';
import { round } from '../support/stats.ts';
import { seqOf } from './documents.ts';

export interface ProbeTarget {
  region: string;
  bootstrap: readonly string[];
  topic: string;
  groupId: string;
}

export interface ProbeWatch {
  tag: string;
  count: number;
  sampleEvery: number;
}

export class KafkaProbe {
  private readonly consumers: Consumer[] = [];
  private watch: ProbeWatch | undefined;
  private readonly seen = new Map<string, Float64Array>();

  constructor(
    private readonly targets: readonly ProbeTarget[],
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    await Promise.all(
      this.targets.map(async (t) => {
        const kafka = kafkaClient({ bootstrap: t.bootstrap, clientId: `bench-probe-${t.region}`, log: this.log });
        // Short fetch waits: the probe should see a record as soon as the broker lets it.
        const consumer = kafka.consumer({ 'isolation.level': 'read_committed', 'fetch.wait.max.ms': 10, kafkaJS: { groupId: t.groupId, fromBeginning: true, autoCommit: false } });
        await consumer.connect();
        this.consumers.push(consumer);
        await consumer.subscribe({ topics: [t.topic] });
        await consumer.run({
          eachBatch: ({ batch }: KafkaJS.EachBatchPayload) => {
            this.onBatch(t.region, batch.messages);
            return Promise.resolve();
          },
        });
      }),
    );
  }

  /** Starts recording the documents of one run tag (replaces the previous watch). */
  startWatch(w: ProbeWatch): void {
    this.watch = w;
    for (const t of this.targets) this.seen.set(t.region, new Float64Array(Math.ceil(w.count / w.sampleEvery)).fill(Number.NaN));
  }

  /** Per region, per sampled document: when its event was first read (wall ms), null if never. */
  collect(): Record<string, Array<number | null>> {
    return Object.fromEntries([...this.seen].map(([region, a]) => [region, Array.from(a, (x) => (Number.isNaN(x) ? null : round(x, 3)))]));
  }

  async stop(): Promise<void> {
    await Promise.all(this.consumers.map((c) => c.disconnect().catch(() => undefined)));
  }

  private onBatch(region: string, messages: KafkaJS.KafkaMessage[]): void {
    const w = this.watch;
    const seen = this.seen.get(region);
    if (!w || !seen) return;
    const at = wallNow();
    for (const m of messages) {
      const seq = m.key ? seqOf(w.tag, m.key.toString('latin1')) : -1;
      if (seq < 0 || seq % w.sampleEvery !== 0 || seq >= w.count) continue;
      const k = seq / w.sampleEvery;
      if (Number.isNaN(seen[k])) seen[k] = at;
    }
  }
}
