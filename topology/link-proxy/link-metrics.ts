/** Prometheus metrics of link proxies, in a registry owned by whoever runs them. */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';

export class LinkMetrics {
  readonly registry = new Registry();
  readonly bytes = new Counter({ name: 'georeplica_link_bytes_total', help: 'Bytes forwarded, by direction (to-brokers: requests of the target region; to-clients: answers)', labelNames: ['link', 'direction'], registers: [this.registry] });
  readonly connections = new Gauge({ name: 'georeplica_link_connections', help: 'Connections open through the proxy', labelNames: ['link'], registers: [this.registry] });
  readonly accepted = new Counter({ name: 'georeplica_link_connections_total', help: 'Connections accepted, by what happened to them first (forwarded, held by a blackhole, reset)', labelNames: ['link', 'outcome'], registers: [this.registry] });
  readonly latency = new Gauge({ name: 'georeplica_link_latency_seconds', help: 'One-way latency added in each direction', labelNames: ['link'], registers: [this.registry] });
  readonly bandwidth = new Gauge({ name: 'georeplica_link_bandwidth_bytes_per_second', help: 'Bandwidth cap per direction (0: none)', labelNames: ['link'], registers: [this.registry] });
  readonly blackhole = new Gauge({ name: 'georeplica_link_blackhole', help: '1 while the link forwards nothing', labelNames: ['link'], registers: [this.registry] });
  readonly reset = new Gauge({ name: 'georeplica_link_reset', help: '1 while the link resets every connection', labelNames: ['link'], registers: [this.registry] });

  constructor(options: { defaultMetrics?: boolean } = {}) {
    if (options.defaultMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'georeplica_link_' });
  }
}
