/** The indexer's Prometheus metrics, in a registry owned by one Indexer instance. */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export type DeadLetterReason = 'invalid_event' | 'unsupported_schema' | 'rejected';

export class IndexerMetrics {
  readonly registry = new Registry();
  readonly events = new Counter({ name: 'georeplica_indexer_events_total', help: 'Events applied, by source region and outcome (indexed, stale)', labelNames: ['source', 'outcome'], registers: [this.registry] });
  readonly deadLetters = new Counter({ name: 'georeplica_indexer_dead_letters_total', help: 'Records sent to the dead-letter topic, by reason', labelNames: ['reason'], registers: [this.registry] });
  readonly bulks = new Counter({ name: 'georeplica_indexer_bulks_total', help: 'Bulk requests by outcome (ok, retried, failed)', labelNames: ['outcome'], registers: [this.registry] });
  readonly bulkSeconds = new Histogram({ name: 'georeplica_indexer_bulk_seconds', help: 'Bulk request duration', buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: [this.registry] });
  /** Set by the indexer: freshness in seconds per source region, read at each scrape. */
  freshnessSource: (() => Record<string, number>) | undefined;
  readonly freshness: Gauge<'source'>;
  readonly paused = new Gauge({ name: 'georeplica_indexer_paused', help: '1 while consumption is paused (OpenSearch unavailable or buffers full)', registers: [this.registry] });

  constructor(options: { defaultMetrics?: boolean } = {}) {
    const perSource = (): Record<string, number> => this.freshnessSource?.() ?? {};
    this.freshness = new Gauge({
      name: 'georeplica_indexer_freshness_seconds',
      help: 'How far behind each source region the index is (replicated heartbeats and indexing lag)',
      labelNames: ['source'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [source, seconds] of Object.entries(perSource())) this.set({ source }, seconds);
      },
    });
    if (options.defaultMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'georeplica_indexer_' });
  }
}
