/** The search endpoint's Prometheus metrics, in a registry owned by one API instance. */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { RegionHealth } from './region-health.ts';

/** What a search came to: ok, invalid (400), unavailable (503), error (anything else). */
export type SearchOutcome = 'ok' | 'invalid' | 'unavailable' | 'error';

export class SearchMetrics {
  readonly registry = new Registry();
  readonly requests = new Counter({ name: 'georeplica_search_requests_total', help: 'Searches by method (GET, POST) and outcome', labelNames: ['method', 'outcome'], registers: [this.registry] });
  readonly duration = new Histogram({
    name: 'georeplica_search_request_duration_seconds',
    help: 'Search request duration, from receipt to answer',
    labelNames: ['outcome'],
    buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });
  readonly shed = new Counter({ name: 'georeplica_search_shed_requests_total', help: 'Searches refused at once (503 SEARCH_OVERLOADED) because maxInFlight were in flight', registers: [this.registry] });
  readonly up = new Gauge({ name: 'georeplica_search_dependency_up', help: '1 when the last probe of a dependency (opensearch, kafka, indexer) succeeded', labelNames: ['dependency'], registers: [this.registry] });
  readonly freshness = new Gauge({ name: 'georeplica_search_freshness_seconds', help: 'How far behind each source region the index is, as reported by health (absent while unknown)', labelNames: ['source'], registers: [this.registry] });

  constructor(options: { defaultMetrics?: boolean } = {}) {
    if (options.defaultMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'georeplica_search_' });
  }

  observeHealth(h: RegionHealth): void {
    this.up.set({ dependency: 'opensearch' }, h.search.ok ? 1 : 0);
    this.up.set({ dependency: 'kafka' }, h.kafka.ok ? 1 : 0);
    this.up.set({ dependency: 'indexer' }, h.indexer.ok ? 1 : 0);
    this.freshness.reset();
    for (const [source, ms] of Object.entries(h.freshness)) if (ms !== null) this.freshness.set({ source }, ms / 1000);
  }

  static outcomeOf(status: number): SearchOutcome {
    if (status >= 200 && status < 300) return 'ok';
    if (status >= 400 && status < 500) return 'invalid';
    if (status === 503) return 'unavailable';
    return 'error';
  }
}
