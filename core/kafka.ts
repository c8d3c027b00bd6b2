/**
 * The project's one way to build Kafka clients (librdkafka through @confluentinc/kafka-javascript):
 * shared defaults, librdkafka's log routed into the injected pino logger, and Kafka errors
 * translated into the error catalogue so the retry policy can read them.
 */
import { KafkaJS } from '@confluentinc/kafka-javascript';
import { GeoError } from './errors.ts';
import './kafka-client-fixes.ts';
import type { Logger } from './logger.ts';

export { KafkaJS };
export type KafkaClient = KafkaJS.Kafka;
export type Producer = KafkaJS.Producer;
export type Consumer = KafkaJS.Consumer;
export type Admin = KafkaJS.Admin;

export interface KafkaClientOptions {
  bootstrap: string | readonly string[];
  clientId: string;
  log?: Logger;
}

export function kafkaClient(o: KafkaClientOptions): KafkaClient {
  const brokers = typeof o.bootstrap === 'string' ? o.bootstrap.split(',') : [...o.bootstrap];
  return new KafkaJS.Kafka({
    kafkaJS: {
      brokers,
      clientId: o.clientId,
      logLevel: KafkaJS.logLevel.WARN,
      ...(o.log ? { logger: bridgeLogger(o.log.child({ kafka: o.clientId })) } : {}),
    },
  });
}

/**
 * Consumer settings for the pipeline's hot consumers (replicator sources, indexers): the broker
 * holds a fetch until it has 1 MiB for it or 50 ms have passed. librdkafka's defaults answer as
 * soon as one record arrives, which at a few hundred records a second is one fetch request per
 * record per consumer. Measured (docs/BENCHMARKS.md, 2026-12-03): less CPU on the source broker,
 * lower replication latency near the replicator's throughput, freshness unchanged within the
 * spread. A backlog still fills each fetch at once; a trickle waits at most 50 ms per hop.
 */
export const BATCHED_FETCH = Object.freeze({ 'fetch.wait.max.ms': 50, 'fetch.min.bytes': 1_048_576 });

function bridgeLogger(log: Logger): KafkaJS.Logger {
  const self: KafkaJS.Logger = {
    info: (message, extra) => log.info(extra ?? {}, message),
    error: (message, extra) => log.error(extra ?? {}, message),
    warn: (message, extra) => log.warn(extra ?? {}, message),
    debug: (message, extra) => log.debug(extra ?? {}, message),
    namespace: () => self,
    // The pino logger's own level decides what is kept.
    setLogLevel: () => undefined,
  };
  return self;
}

/** Maps any Kafka client error to a GeoError: retriable ones (broker down, timeouts) become KAFKA_UNAVAILABLE. */
export function kafkaError(err: unknown, what: string): GeoError {
  if (err instanceof GeoError) return err;
  const e = err as Partial<KafkaJS.KafkaJSError> & Error;
  const retriable = e.retriable === true || e instanceof KafkaJS.KafkaJSConnectionError || e instanceof KafkaJS.KafkaJSRequestTimeoutError || e instanceof KafkaJS.KafkaJSTimeout;
  return new GeoError(retriable ? 'KAFKA_UNAVAILABLE' : 'KAFKA_OPERATION_FAILED', `${what}: ${e.message ?? String(err)}`, {
    cause: err,
    retriable,
    details: { kafkaCode: e.code, fatal: e.fatal, abortable: e.abortable },
  });
}
