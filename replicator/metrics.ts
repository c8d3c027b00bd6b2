/** The replicator's Prometheus metrics, in a registry owned by one Replicator instance. */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class ReplicatorMetrics {
  readonly registry = new Registry();
  readonly records = new Counter({ name: 'georeplica_replicator_records_total', help: 'Records copied to the target', labelNames: ['flow', 'topic'], registers: [this.registry] });
  readonly bytes = new Counter({ name: 'georeplica_replicator_bytes_total', help: 'Key and value bytes copied to the target', labelNames: ['flow'], registers: [this.registry] });
  readonly skipped = new Counter({ name: 'georeplica_replicator_skipped_records_total', help: 'Records not copied because they arrived by replication (identity naming)', labelNames: ['flow'], registers: [this.registry] });
  readonly offsetGaps = new Counter({ name: 'georeplica_replicator_source_offset_gaps_total', help: 'Source offsets passed over between a checkpoint and the next record copied (transaction markers, aborted or compacted records; 0 with a plain source)', labelNames: ['flow', 'topic'], registers: [this.registry] });
  readonly latency = new Histogram({
    name: 'georeplica_replicator_replication_latency_seconds',
    help: 'Source record timestamp to committed copy on the target',
    labelNames: ['flow'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers: [this.registry],
  });
  readonly transactions = new Counter({ name: 'georeplica_replicator_transactions_total', help: 'Copy transactions by outcome', labelNames: ['flow', 'outcome'], registers: [this.registry] });
  readonly lagRecords = new Gauge({ name: 'georeplica_replicator_lag_records', help: 'Source records not yet copied', labelNames: ['flow', 'topic', 'partition'], registers: [this.registry] });
  readonly lagSeconds = new Gauge({ name: 'georeplica_replicator_lag_seconds', help: 'Age of the oldest source record not yet copied (0 when caught up)', labelNames: ['flow', 'topic', 'partition'], registers: [this.registry] });
  readonly checkpointAge = new Gauge({ name: 'georeplica_replicator_checkpoint_age_seconds', help: 'Time since the last committed checkpoint', labelNames: ['flow', 'topic', 'partition'], registers: [this.registry] });
  readonly flowState = new Gauge({ name: 'georeplica_replicator_flow_state', help: '1 for the state each flow is in', labelNames: ['flow', 'state'], registers: [this.registry] });
  readonly partitionErrors = new Counter({ name: 'georeplica_replicator_partition_errors_total', help: 'Partitions stopped or retried, by reason', labelNames: ['flow', 'reason'], registers: [this.registry] });
  readonly freshness = new Gauge({ name: 'georeplica_replicator_freshness_seconds', help: 'Age of the newest heartbeat copied from each source region', labelNames: ['source', 'target'], registers: [this.registry] });

  constructor(options: { defaultMetrics?: boolean } = {}) {
    if (options.defaultMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'georeplica_replicator_' });
  }
}
