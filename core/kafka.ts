/**
 * The project's one way to build Kafka clients (librdkafka through @confluentinc/kafka-javascript):
 * shared defaults, librdkafka's log routed into the injected pino logger, and Kafka errors
 * translated into the error catalogue so the retry policy can read them.
 */
import { KafkaJS } from '@confluentinc/kafka-javascript';
import { GeoError } from './errors.ts';
import './kafka-client-fixes.ts';
import type { Logger } from './logger.ts';
import { RepeatFilter } from './repeat-filter.ts';

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
 * Consumer settings for the indexers' hot consumers (the replicator's source consumer takes its
 * own from replication.fetchMinBytes / fetchMaxWaitMs): the broker
 * holds a fetch until it has 1 MiB for it or 50 ms have passed. librdkafka's defaults answer as
 * soon as one record arrives, which at a few hundred records a second is one fetch request per
 * record per consumer. Measured (docs/BENCHMARKS.md, 2026-12-03): less CPU on the source broker,
 * lower replication latency near the replicator's throughput, freshness unchanged within the
 * spread. A backlog still fills each fetch at once; a trickle waits at most 50 ms per hop.
 */
export const BATCHED_FETCH = Object.freeze({ 'fetch.wait.max.ms': 50, 'fetch.min.bytes': 1_048_576 });

function bridgeLogger(log: Logger): KafkaJS.Logger {
  const repeats = new RepeatFilter();
  const emit = (level: 'info' | 'error' | 'warn', message: string, extra: object | undefined): void => {
    const held = repeats.admit(`${level} ${message}`);
    if (held === undefined) return;
    log[level]({ ...extra, ...(held > 0 ? { repeatsHeldBack: held } : {}) }, message);
  };
  const self: KafkaJS.Logger = {
    info: (message, extra) => emit('info', message, extra),
    error: (message, extra) => emit('error', message, extra),
    warn: (message, extra) => emit('warn', message, extra),
    debug: (message, extra) => log.debug(extra ?? {}, message),
    namespace: () => self,
    // The pino logger's own level decides what is kept.
    setLogLevel: () => undefined,
  };
  return self;
}

/**
 * The `event.error` listener for the binding's own clients: logs each error with its code, and
 * holds back repeats of the same one (RepeatFilter) so that an outage is a few lines, not a flood.
 */
export function bindingErrorListener(log: Logger, what: string, level: 'warn' | 'debug' = 'warn'): (err: { message: string; code?: number; isFatal?: boolean }) => void {
  const repeats = new RepeatFilter();
  return (err) => {
    const held = repeats.admit(`${err.code ?? ''} ${err.message}`);
    if (held === undefined) return;
    log[level]({ err: err.message, code: err.code, ...(err.isFatal === true ? { fatal: true } : {}), ...(held > 0 ? { repeatsHeldBack: held } : {}) }, what);
  };
}

/**
 * An error of the binding's own API (LibrdKafkaError: code, isFatal, isRetriable,
 * isTxnRequiresAbort) as an Error in the shape of the compat client's (code, fatal, retriable,
 * abortable), which kafkaError() and the replicator read.
 */
export function bindingError(err: unknown): Error {
  const e = err as { message?: string; code?: number; isFatal?: boolean; isRetriable?: boolean; isTxnRequiresAbort?: boolean };
  return Object.assign(new Error(e.message ?? String(err)), { code: e.code, fatal: e.isFatal === true, retriable: e.isRetriable === true, abortable: e.isTxnRequiresAbort === true });
}

/**
 * Disconnects a KafkaJS-compatible consumer that runs (`run()`), waiting at most `waitMs`.
 * Its disconnect waits for its run loop's lock, and in @confluentinc/kafka-javascript 1.10.1 a
 * fetch of that loop can wait forever for a rebalance callback's promise when two rebalance
 * events come close together (seen in CI: a stop hung for the whole 300 s hook timeout). Past
 * the wait, the librdkafka consumer underneath is closed directly, so that it leaves its group
 * and its partitions move on, and the compat object is abandoned. Never throws.
 */
export async function disconnectConsumer(c: Consumer, waitMs: number, log: Logger): Promise<void> {
  const done = c.disconnect().then(
    () => true,
    () => true,
  );
  if (await within(done, waitMs)) return;
  log.warn({ waitedMs: waitMs }, 'consumer disconnect stuck in the client library; closing its librdkafka consumer directly');
  try {
    const raw = (c as unknown as { _getInternalClient(): { isConnected(): boolean; disconnect(cb: () => void): void } })._getInternalClient();
    if (raw.isConnected()) await within(new Promise<boolean>((resolve) => raw.disconnect(() => resolve(true))), waitMs);
  } catch (err) {
    log.warn({ err: (err as Error).message }, 'closing the librdkafka consumer failed');
  }
}

async function within(p: Promise<boolean>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)))]);
  } finally {
    clearTimeout(timer);
  }
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
