/**
 * Measuring the replicator without editing it: while the replicator under test runs, Kafka
 * client prototypes in this process are wrapped to
 * - apply setting overrides to the replicator's clients (its flow consumer is the one created
 *   with a rebalance_cb; its copier producers are the ones with compression.type), so proposed
 *   tunings can be measured from the command line, and
 * - time every copy (PartitionCopier.copy) and the producer calls inside it, for the report.
 * Everything is restored by the returned uninstall function.
 */
import { KafkaJS } from '../../core/kafka.ts';
import { PartitionCopier } from '../../replicator/partition-copier.ts';
import { percentile, round } from '../support/stats.ts';

type AnyFn = (this: unknown, ...args: unknown[]) => unknown;
type Settings = Record<string, string | number | boolean>;

function wrap(proto: object, name: string, make: (orig: AnyFn) => AnyFn): () => void {
  const rec = proto as Record<string, unknown>;
  const orig = rec[name];
  if (typeof orig !== 'function') throw new Error(`cannot instrument ${name}: not a method`);
  rec[name] = make(orig as AnyFn);
  return () => {
    rec[name] = orig;
  };
}

/** "key=value" → a librdkafka setting; numbers and booleans are converted. */
export function parseSetting(text: string): [string, string | number | boolean] {
  const eq = text.indexOf('=');
  if (eq <= 0) throw new Error(`expected key=value, got "${text}"`);
  const key = text.slice(0, eq).trim();
  const raw = text.slice(eq + 1).trim();
  const value = raw === 'true' ? true : raw === 'false' ? false : raw !== '' && Number.isFinite(Number(raw)) ? Number(raw) : raw;
  return [key, value];
}

/** Applies `consumer` overrides to the flow's source consumer and `producer` overrides to the copiers' producers. */
export function installOverrides(o: { consumer: Settings; producer: Settings }): () => void {
  const undo: Array<() => void> = [];
  if (Object.keys(o.consumer).length > 0) {
    undo.push(
      wrap(KafkaJS.Kafka.prototype, 'consumer', (orig) =>
        function (this: unknown, ...args: unknown[]) {
          const config = args[0] as Record<string, unknown> | undefined;
          return orig.call(this, config && 'rebalance_cb' in config ? { ...config, ...o.consumer } : config);
        },
      ),
    );
  }
  if (Object.keys(o.producer).length > 0) {
    undo.push(
      wrap(KafkaJS.Kafka.prototype, 'producer', (orig) =>
        function (this: unknown, ...args: unknown[]) {
          const config = args[0] as Record<string, unknown> | undefined;
          return orig.call(this, config && 'compression.type' in config ? { ...config, ...o.producer } : config);
        },
      ),
    );
  }
  return () => undo.reverse().forEach((u) => u());
}

interface Timing {
  count: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  meanMs: number;
  totalSeconds: number;
}

export interface CopyTraceSummary {
  copies: number;
  recordsPerCopy: { p50: number; mean: number; max: number };
  /** One PartitionCopier.copy (one transaction in exactly-once). */
  copy: Timing;
  /** Gap on a partition between the end of one copy and the start of the next (waiting for the consumer). */
  gapBetweenCopies: Timing;
  /** producer.send of the copies (delivery of every record awaited). */
  sendCopies: Timing;
  /** producer.send of single records (offset syncs; heartbeats too, once a second). */
  sendSingle: Timing;
  sendOffsets: Timing;
  commit: Timing;
  /** Share of the time from the first copy's start to the last copy's end with at least one copy running. */
  busyShare: number;
}

function timing(samples: number[]): Timing {
  const sorted = Float64Array.from(samples).sort();
  const total = samples.reduce((a, b) => a + b, 0);
  return { count: samples.length, p50Ms: round(percentile(sorted, 50), 1), p99Ms: round(percentile(sorted, 99), 1), maxMs: round(sorted[sorted.length - 1] ?? Number.NaN, 1), meanMs: round(samples.length > 0 ? total / samples.length : Number.NaN, 1), totalSeconds: round(total / 1000, 2) };
}

/** Times copies and the producer calls they make, from install() until the uninstall function is called. */
export class CopyTrace {
  private readonly copyMs: number[] = [];
  private readonly records: number[] = [];
  private readonly gapMs: number[] = [];
  private readonly sendCopiesMs: number[] = [];
  private readonly sendSingleMs: number[] = [];
  private readonly sendOffsetsMs: number[] = [];
  private readonly commitMs: number[] = [];
  private readonly lastEnd = new Map<string, number>();
  private running = 0;
  private busySince = 0;
  private busyMs = 0;
  private firstStart: number | undefined;
  private lastStop = 0;

  install(): () => void {
    const undo: Array<() => void> = [];
    // The copier's producer class is not exported: take its prototype from an unconnected instance.
    const producerProto = Object.getPrototypeOf(new KafkaJS.Kafka({ kafkaJS: { brokers: ['127.0.0.1:9'] } }).producer()) as object;
    const timed = (name: string, sink: (ms: number, args: unknown[]) => void): void => {
      undo.push(
        wrap(producerProto, name, (orig) =>
          function (this: unknown, ...args: unknown[]) {
            const t0 = performance.now();
            const done = (): void => sink(performance.now() - t0, args);
            const r = orig.apply(this, args) as Promise<unknown>;
            return r.then(
              (v) => {
                done();
                return v;
              },
              (e: unknown) => {
                done();
                throw e;
              },
            );
          },
        ),
      );
    };
    timed('send', (ms, args) => ((args[0] as { messages?: unknown[] } | undefined)?.messages?.length === 1 ? this.sendSingleMs : this.sendCopiesMs).push(ms));
    timed('sendOffsets', (ms) => this.sendOffsetsMs.push(ms));
    timed('commit', (ms) => this.commitMs.push(ms));
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the wrapper's own `this` is the copier
    const trace = this;
    undo.push(
      wrap(PartitionCopier.prototype, 'copy', (orig) =>
        function (this: unknown, ...args: unknown[]) {
          const key = (this as PartitionCopier).key;
          const t0 = performance.now();
          const prev = trace.lastEnd.get(key);
          if (prev !== undefined) trace.gapMs.push(t0 - prev);
          trace.records.push((args[0] as unknown[]).length);
          trace.firstStart ??= t0;
          if (trace.running++ === 0) trace.busySince = t0;
          const done = (): void => {
            const t1 = performance.now();
            trace.copyMs.push(t1 - t0);
            trace.lastEnd.set(key, t1);
            trace.lastStop = t1;
            if (--trace.running === 0) trace.busyMs += t1 - trace.busySince;
          };
          return (orig.apply(this, args) as Promise<unknown>).then(
            (v) => {
              done();
              return v;
            },
            (e: unknown) => {
              done();
              throw e;
            },
          );
        },
      ),
    );
    return () => undo.reverse().forEach((u) => u());
  }

  summary(): CopyTraceSummary {
    const sortedRecords = Float64Array.from(this.records).sort();
    const totalRecords = this.records.reduce((a, b) => a + b, 0);
    const wall = this.firstStart === undefined ? 0 : this.lastStop - this.firstStart;
    return {
      copies: this.copyMs.length,
      recordsPerCopy: { p50: percentile(sortedRecords, 50), mean: round(this.records.length > 0 ? totalRecords / this.records.length : Number.NaN, 1), max: sortedRecords[sortedRecords.length - 1] ?? Number.NaN },
      copy: timing(this.copyMs),
      gapBetweenCopies: timing(this.gapMs),
      sendCopies: timing(this.sendCopiesMs),
      sendSingle: timing(this.sendSingleMs),
      sendOffsets: timing(this.sendOffsetsMs),
      commit: timing(this.commitMs),
      busyShare: round(wall > 0 ? this.busyMs / wall : Number.NaN, 3),
    };
  }
}
