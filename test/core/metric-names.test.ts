/** The naming convention for every component's metrics: georeplica_<component>_<what>_<unit>, process metrics included. */
import { describe, expect, it } from 'vitest';
import { ReplicatorMetrics } from '../../replicator/metrics.ts';
import { IndexerMetrics } from '../../services/indexer/metrics.ts';
import { IngestMetrics } from '../../services/ingest/ingest-metrics.ts';
import { RouterMetrics } from '../../services/router/router-metrics.ts';
import { SearchMetrics } from '../../services/search/search-metrics.ts';
import { LinkMetrics } from '../../topology/link-proxy/link-metrics.ts';

const components = [
  ['replicator', () => new ReplicatorMetrics({ defaultMetrics: true })],
  ['indexer', () => new IndexerMetrics({ defaultMetrics: true })],
  ['ingest', () => new IngestMetrics({ defaultMetrics: true })],
  ['router', () => new RouterMetrics({ defaultMetrics: true })],
  ['search', () => new SearchMetrics({ defaultMetrics: true })],
  ['link', () => new LinkMetrics({ defaultMetrics: true })],
] as const;

describe('metric names', () => {
  it.each(components)('%s: every metric is georeplica_<component>_..., process CPU as georeplica_<component>_process_cpu_seconds_total', async (component, make) => {
    const m = make();
    const names = (await m.registry.getMetricsAsJSON()).map((x) => x.name);
    expect(names.filter((n) => !n.startsWith(`georeplica_${component}_`))).toEqual([]);
    expect(names).toContain(`georeplica_${component}_process_cpu_seconds_total`);
    expect(names).toContain(`georeplica_${component}_nodejs_eventloop_lag_seconds`);
    expect(names.filter((n) => n.includes('process_process'))).toEqual([]);
    m.registry.clear();
  });
});
