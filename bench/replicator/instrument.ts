/**
 * Measuring the replicator without editing it: while the replicator under test runs, Kafka
 * client prototypes in this process are wrapped to
 * - apply setting overrides to the replicator's clients (its flows' source consumers, through
 *   SourceReader#settings; its copy producers, through FlowCopier#producerSettings), so proposed
 *   tunings can be measured from the command line, and
 * - time every copy (FlowCopier.copy) and the producer calls inside it, for the report.
 * Everything is restored by the returned uninstall function.
 */
import { CheckpointMember } from '../../replicator/checkpoint-member.ts';
import { CopyProducer } from '../../replicator/copy-producer.ts';
import { FlowCopier } from '../../replicator/flow-copier.ts';
import { SourceReader } from '../../replicator/source-reader.ts';
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

/** Applies `consumer` overrides to the flows' source consumers and `producer` overrides to the copiers' producers. */
export function installOverrides(o: { consumer: Settings; producer: Settings }): () => void {
  const undo: Array<() => void> = [];
  if (Object.keys(o.consumer).length > 0) {
    undo.push(
      wrap(SourceReader.prototype, 'settings', (orig) =>
        function (this: unknown, ...args: unknown[]) {
          return { ...(orig.apply(this, args) as Settings), ...o.consumer };
        },
      ),
    );
  }
  if (Object.keys(o.producer).length > 0) {
    undo.push(
      wrap(FlowCopier.prototype, 'producerSettings', (orig) =>
        function (this: unknown, ...args: unknown[]) {
          return { ...(orig.apply(this, args) as Settings), ...o.producer };
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
  /** One FlowCopier.copy (one transaction across the flow's partitions in exactly-once). */
  copy: Timing;
  /** Gap on a flow between the end of one copy and the start of the next (waiting for records or the copy interval). */
  gapBetweenCopies: Timing;
  /** From the copies handed to the producer (librdkafka's queue) until every delivery report is in. */
  sendCopies: Timing;
  /** Handing the copies to librdkafka's queue (the CPU part of sending them). */
  queueCopies: Timing;
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
  private readonly queueCopiesMs: number[] = [];
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
    const timed = (name: string, sink: (ms: number) => void, proto: object): void => {
      undo.push(
        wrap(proto, name, (orig) =>
          function (this: unknown, ...args: unknown[]) {
            const t0 = performance.now();
            const done = (): void => sink(performance.now() - t0);
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
    timed('sendCopies', (ms) => this.queueCopiesMs.push(ms), FlowCopier.prototype);
    timed('awaitCopies', (ms) => this.sendCopiesMs.push(ms), FlowCopier.prototype);
    timed('sendCheckpoints', (ms) => this.sendOffsetsMs.push(ms), FlowCopier.prototype);
    timed('commit', (ms) => this.commitMs.push(ms), CopyProducer.prototype);
    // At least once there is no transaction: the copy's commit is the checkpoint's offset commit.
    timed('commit', (ms) => this.commitMs.push(ms), CheckpointMember.prototype);
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the wrapper's own `this` is the copier
    const trace = this;
    undo.push(
      wrap(FlowCopier.prototype, 'copy', (orig) =>
        function (this: unknown, ...args: unknown[]) {
          const key = (this as FlowCopier).transactionalId;
          const t0 = performance.now();
          const prev = trace.lastEnd.get(key);
          if (prev !== undefined) trace.gapMs.push(t0 - prev);
          trace.records.push((args[0] as Array<{ messages: unknown[] }>).reduce((n, p) => n + p.messages.length, 0));
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
      queueCopies: timing(this.queueCopiesMs),
      sendOffsets: timing(this.sendOffsetsMs),
      commit: timing(this.commitMs),
      busyShare: round(wall > 0 ? this.busyMs / wall : Number.NaN, 3),
    };
  }
}
