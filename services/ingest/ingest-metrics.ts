/** The ingest API's Prometheus metrics, in a registry owned by one API instance. */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** What a request or a bulk line came to: accepted (Kafka acknowledged), invalid (400), unavailable (503), error (anything else). */
export type IngestOutcome = 'accepted' | 'invalid' | 'unavailable' | 'error';

export class IngestMetrics {
  readonly registry = new Registry();
  readonly requests = new Counter({ name: 'georeplica_ingest_requests_total', help: 'Write requests by operation (upsert, delete, bulk) and outcome', labelNames: ['op', 'outcome'], registers: [this.registry] });
  readonly bulkLines = new Counter({ name: 'georeplica_ingest_bulk_lines_total', help: 'Lines of bulk requests by operation and outcome', labelNames: ['op', 'outcome'], registers: [this.registry] });
  readonly events = new Counter({ name: 'georeplica_ingest_events_total', help: 'Document events acknowledged by Kafka', labelNames: ['op'], registers: [this.registry] });
  readonly eventBytes = new Counter({ name: 'georeplica_ingest_event_bytes_total', help: 'Bytes of document events (key and value) acknowledged by Kafka', registers: [this.registry] });
  readonly produceLatency = new Histogram({
    name: 'georeplica_ingest_produce_latency_seconds',
    help: 'From handing an event to the producer to its acknowledgement (or failure) by Kafka',
    labelNames: ['outcome'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly kafkaUp = new Gauge({ name: 'georeplica_ingest_kafka_up', help: '1 when the last reachability check of the region\'s Kafka succeeded, 0 otherwise', registers: [this.registry] });

  constructor(options: { defaultMetrics?: boolean } = {}) {
    if (options.defaultMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'georeplica_ingest_' });
  }

  /** The outcome an HTTP status stands for. */
  static outcomeOf(status: number): IngestOutcome {
    if (status >= 200 && status < 300) return 'accepted';
    if (status >= 400 && status < 500) return 'invalid';
    if (status === 503) return 'unavailable';
    return 'error';
  }
}
