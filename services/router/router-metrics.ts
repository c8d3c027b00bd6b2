/**
 * The router's Prometheus metrics, in a registry owned by one router instance (injected, never
 * global). Gauges describing regions are filled at scrape time from `snapshot`.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { RouterStatus } from './router-status.ts';

export class RouterMetrics {
  readonly registry = new Registry();
  readonly requests = new Counter({ name: 'georeplica_router_requests_total', help: 'Searches answered, by serving region ("none" when nothing served), outcome and route reason', labelNames: ['region', 'outcome', 'reason'], registers: [this.registry] });
  readonly tries = new Counter({ name: 'georeplica_router_tries_total', help: 'Tries of a search against one region, by outcome (ok, client_error, error, timeout, cancelled)', labelNames: ['region', 'outcome'], registers: [this.registry] });
  readonly failovers = new Counter({ name: 'georeplica_router_failovers_total', help: 'Searches served by another region than the client\'s nearest, by cause (unhealthy, ejected, drained, stale, slow-start, error)', labelNames: ['from', 'to', 'cause'], registers: [this.registry] });
  readonly ejections = new Counter({ name: 'georeplica_router_ejections_total', help: 'Regions ejected by passive outlier detection', labelNames: ['region'], registers: [this.registry] });
  readonly retries = new Counter({ name: 'georeplica_router_retries_total', help: 'Retries to the next region: sent (within budget) or denied (budget exhausted)', labelNames: ['outcome'], registers: [this.registry] });
  readonly hedges = new Counter({ name: 'georeplica_router_hedges_total', help: 'Hedged second requests: sent, won (answered first) or denied (budget exhausted)', labelNames: ['outcome'], registers: [this.registry] });
  readonly budget = new Gauge({ name: 'georeplica_router_budget_requests', help: 'Extra requests over the budget window: allowed in all, and used, per budget (retry, hedge)', labelNames: ['budget', 'kind'], registers: [this.registry] });
  readonly cache = new Counter({ name: 'georeplica_router_cache_operations_total', help: 'Serve-stale cache operations by op (read, write) and outcome (hit, miss, ok, error)', labelNames: ['op', 'outcome'], registers: [this.registry] });
  readonly probes = new Counter({ name: 'georeplica_router_probes_total', help: 'Active health probes by region and outcome', labelNames: ['region', 'outcome'], registers: [this.registry] });
  readonly healthy = new Gauge({ name: 'georeplica_router_region_healthy', help: '1 when the region passes its active health checks', labelNames: ['region'], registers: [this.registry] });
  readonly ejected = new Gauge({ name: 'georeplica_router_region_ejected', help: '1 while the region is ejected by outlier detection', labelNames: ['region'], registers: [this.registry] });
  readonly phase = new Gauge({ name: 'georeplica_router_region_traffic_phase', help: '1 for the traffic phase each region is in (active, drained, catching-up, ramping)', labelNames: ['region', 'phase'], registers: [this.registry] });
  readonly weight = new Gauge({ name: 'georeplica_router_region_weight_ratio', help: 'Share of its traffic a region takes (slow start ramps it from 0.1 to 1)', labelNames: ['region'], registers: [this.registry] });
  readonly freshness = new Gauge({ name: 'georeplica_router_region_freshness_seconds', help: 'How far the region\'s index is behind each source region (absent when unknown)', labelNames: ['region', 'source'], registers: [this.registry] });
  readonly fresh = new Gauge({ name: 'georeplica_router_region_fresh', help: '1 when every source\'s freshness is known and within the bound', labelNames: ['region'], registers: [this.registry] });
  readonly rtt = new Gauge({ name: 'georeplica_router_region_rtt_seconds', help: 'Measured round trip to the region (EWMA of health probes)', labelNames: ['region'], registers: [this.registry] });
  readonly inFlight = new Gauge({ name: 'georeplica_router_region_in_flight_requests', help: 'Tries in flight to the region', labelNames: ['region'], registers: [this.registry] });
  readonly addedLatency = new Histogram({
    name: 'georeplica_router_added_latency_seconds',
    help: 'Time the router adds to a search: its whole handling minus the serving try\'s upstream time',
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1],
    registers: [this.registry],
  });
  readonly duration = new Histogram({
    name: 'georeplica_router_request_duration_seconds',
    help: 'Whole searches as clients see them, by route reason',
    labelNames: ['reason'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });

  constructor(options: { defaultMetrics?: boolean } = {}) {
    if (options.defaultMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'georeplica_router_' });
  }

  /** Sets the region gauges from a status snapshot; called before each scrape. */
  observe(s: RouterStatus): void {
    this.freshness.reset();
    this.phase.reset();
    for (const r of s.regions) {
      this.healthy.set({ region: r.region }, r.healthy ? 1 : 0);
      this.ejected.set({ region: r.region }, r.ejected ? 1 : 0);
      this.phase.set({ region: r.region, phase: r.phase }, 1);
      this.weight.set({ region: r.region }, r.weight);
      this.fresh.set({ region: r.region }, r.fresh ? 1 : 0);
      for (const [source, ms] of Object.entries(r.freshness)) if (ms !== null) this.freshness.set({ region: r.region, source }, ms / 1000);
      if (r.rttMs !== null) this.rtt.set({ region: r.region }, r.rttMs / 1000);
      this.inFlight.set({ region: r.region }, r.inFlight);
    }
    for (const [budget, b] of [['retry', s.budgets.retry], ['hedge', s.budgets.hedge]] as const) {
      this.budget.set({ budget, kind: 'allowed' }, b.allowed);
      this.budget.set({ budget, kind: 'used' }, b.used);
    }
  }
}
