/** The replicator benchmark's summary: a table per setup for the console and docs, and the JSON result. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { MachineInfo } from '../support/machine.ts';
import { round, spread } from '../support/stats.ts';
import type { Spread } from '../support/stats.ts';
import type { RepeatResult, Setup } from './repeat.ts';

export const TARGETS = { ratio: 0.8, p99Ms: 250 } as const;

export interface SetupSummary {
  recordsPerSec: Spread;
  mbPerSec: Spread;
  ceilingRecordsPerSec: Spread;
  ratio: Spread;
  p50Ms: Spread;
  p99Ms: Spread;
  maxMs: Spread;
}

export interface SetupResult {
  setup: Setup;
  repeats: RepeatResult[];
  failures: Array<{ repeat: number; error: string }>;
}

export function summarize(r: SetupResult): SetupSummary {
  const of = (f: (x: RepeatResult) => number): Spread => spread(r.repeats.map(f));
  return {
    recordsPerSec: of((x) => x.replicator.recordsPerSec),
    mbPerSec: of((x) => x.replicator.mbPerSec),
    ceilingRecordsPerSec: of((x) => x.ceiling.recordsPerSec),
    ratio: of((x) => x.ratio),
    p50Ms: of((x) => x.latency.p50Ms),
    p99Ms: of((x) => x.latency.p99Ms),
    maxMs: of((x) => x.latency.maxMs),
  };
}

const int = (x: number): string => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : 'n/a');
const fix = (d: number) => (x: number): string => (Number.isFinite(x) ? x.toFixed(d) : 'n/a');

function cell(s: Spread, f: (x: number) => string, repeats: number): string {
  if (!Number.isFinite(s.median)) return 'n/a';
  return repeats > 1 ? `${f(s.median)} (${f(s.min)}–${f(s.max)})` : f(s.median);
}

export function sizeLabel(bytes: number): string {
  return bytes % 1024 === 0 ? `${bytes / 1024} KiB` : `${bytes} B`;
}

/** One markdown table: a row per setup, median (min–max) over the successful repeats. */
export function markdownTable(results: readonly SetupResult[]): string {
  const ab = results.some((r) => r.setup.variant !== undefined);
  const head = `| mode | record |${ab ? ' replicator settings |' : ''} records/s | MB/s | ceiling records/s | ratio | p50 ms | p99 ms | max ms | repeats |\n|---|---|${ab ? '---|' : ''}---|---|---|---|---|---|---|---|`;
  const rows = results.map((r) => {
    const s = summarize(r);
    const n = r.repeats.length;
    const failed = r.failures.length > 0 ? `, ${r.failures.length} failed` : '';
    return `| ${r.setup.mode} | ${sizeLabel(r.setup.size)} |${ab ? ` ${r.setup.variant ?? ''} |` : ''} ${cell(s.recordsPerSec, int, n)} | ${cell(s.mbPerSec, fix(1), n)} | ${cell(s.ceilingRecordsPerSec, int, n)} | ${cell(s.ratio, fix(2), n)} | ${cell(s.p50Ms, int, n)} | ${cell(s.p99Ms, int, n)} | ${cell(s.maxMs, int, n)} | ${n}${failed} |`;
  });
  return [head, ...rows].join('\n');
}

/** Whether each setup's median meets the issue's targets. */
export function verdicts(results: readonly SetupResult[]): string[] {
  return results.map((r) => {
    const s = summarize(r);
    const ratio = s.ratio.median >= TARGETS.ratio ? 'meets' : 'BELOW';
    const p99 = s.p99Ms.median < TARGETS.p99Ms ? 'meets' : 'ABOVE';
    return `${r.setup.mode} ${sizeLabel(r.setup.size)}${r.setup.variant ? ` (${r.setup.variant})` : ''}: ratio ${fix(2)(s.ratio.median)} ${ratio} target ≥ ${TARGETS.ratio}${r.setup.mode === 'exactly-once' ? '' : ' (target is for exactly-once)'}; p99 ${int(s.p99Ms.median)} ms ${p99} target < ${TARGETS.p99Ms} ms`;
  });
}

function rounded(s: Spread, digits: number): Spread {
  return { median: round(s.median, digits), min: round(s.min, digits), max: round(s.max, digits) };
}

function roundRepeat(r: RepeatResult): unknown {
  return {
    ...r,
    backlog: { records: r.backlog.records, seconds: round(r.backlog.seconds, 2), recordsPerSec: round(r.backlog.recordsPerSec) },
    ceiling: {
      recordsPerSec: round(r.ceiling.recordsPerSec),
      limitedBy: r.ceiling.limitedBy,
      producer: { recordsPerSec: round(r.ceiling.producer.recordsPerSec), seconds: round(r.ceiling.producer.seconds, 2), verifiedRecords: r.ceiling.producer.verifiedRecords },
      consumer: { ...r.ceiling.consumer, recordsPerSec: round(r.ceiling.consumer.recordsPerSec) },
    },
    replicator: {
      ...r.replicator,
      recordsPerSec: round(r.replicator.recordsPerSec),
      mbPerSec: round(r.replicator.mbPerSec, 2),
      firstVisibleSeconds: round(r.replicator.firstVisibleSeconds, 2),
      allVisibleSeconds: round(r.replicator.allVisibleSeconds, 2),
      windowSeconds: round(r.replicator.windowSeconds, 2),
    },
    ratio: round(r.ratio, 3),
    latency: {
      ...r.latency,
      achievedRatePerSec: round(r.latency.achievedRatePerSec),
      p50Ms: round(r.latency.p50Ms, 1),
      p99Ms: round(r.latency.p99Ms, 1),
      maxMs: round(r.latency.maxMs, 1),
      meanMs: round(r.latency.meanMs, 1),
    },
  };
}

export interface ReportMeta {
  startedAt: Date;
  finishedAt: Date;
  command: string;
  machine: MachineInfo;
  loadAverage1mAtEnd: number;
  regions: { origin: string; source: string; target: string; sourceBootstrap: string; targetBootstrap: string };
  options: Record<string, unknown>;
}

export const METHOD = {
  records: 'value = exactly the record size (16-byte header: produce time, sequence, run tag; then random bytes, incompressible); no key; partition = sequence mod partitions; MB = 10^6 bytes of values',
  throughput: 'the replicator (in this process) copies a pre-filled backlog; read_committed end offsets of the copy are polled every 100 ms; rate = (records - end offsets at the first sample with any copy) / (time of the sample showing the final end offsets - time of that first sample), i.e. replicator startup excluded; the copy is verified by a read_committed consumer counting distinct records of the run (end offsets alone include exactly-once commit markers)',
  ceiling: 'plain clients, no replicator, run concurrently in the same process: a consumer with the flow\'s consumer settings reads the source backlog while a producer with the copier\'s producer settings (no transaction) writes the same records to a new topic in the target; the producer starts when the consumer\'s first batch arrives; ceiling = min(producer rate from first send to last ack, consumer rate from first to last batch, first batch excluded)',
  latency: 'after the copy, with the replicator caught up: records stamped with the wall clock at send time are produced to the source at half the replicator rate measured in the same repeat (after a warm-up); a read_committed consumer on the target (fetch.wait.max.ms=10, in the same process) computes receive time - produce time per record; p50/p99 are nearest-rank',
  order: 'setups interleaved: repeat 1 of every setup, then repeat 2, ...; each repeat uses its own topics, replication instance and include prefix, deleted afterwards',
} as const;

export function writeJson(file: string, meta: ReportMeta, results: readonly SetupResult[]): void {
  const body = {
    benchmark: 'replicator',
    startedAt: meta.startedAt.toISOString(),
    finishedAt: meta.finishedAt.toISOString(),
    durationSeconds: round((meta.finishedAt.getTime() - meta.startedAt.getTime()) / 1000, 1),
    command: meta.command,
    machine: meta.machine,
    // Process-level knobs that change the replicator's behaviour (GC, the libuv threadpool its blocking Kafka calls use).
    environment: { NODE_OPTIONS: process.env['NODE_OPTIONS'] ?? null, UV_THREADPOOL_SIZE: process.env['UV_THREADPOOL_SIZE'] ?? null },
    loadAverage1mAtEnd: meta.loadAverage1mAtEnd,
    regions: meta.regions,
    options: meta.options,
    method: METHOD,
    targets: { ratioExactlyOnceAtLeast: TARGETS.ratio, p99MsBelow: TARGETS.p99Ms },
    setups: results.map((r) => {
      const s = summarize(r);
      return {
        mode: r.setup.mode,
        recordBytes: r.setup.size,
        ...(r.setup.variant ? { variant: r.setup.variant } : {}),
        summary: {
          recordsPerSec: rounded(s.recordsPerSec, 0),
          mbPerSec: rounded(s.mbPerSec, 2),
          ceilingRecordsPerSec: rounded(s.ceilingRecordsPerSec, 0),
          ratio: rounded(s.ratio, 3),
          p50Ms: rounded(s.p50Ms, 1),
          p99Ms: rounded(s.p99Ms, 1),
          maxMs: rounded(s.maxMs, 1),
        },
        repeats: r.repeats.map(roundRepeat),
        failures: r.failures,
      };
    }),
  };
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${compactJson(body)}\n`);
}

/** Indented JSON with innermost arrays and small objects on one line, to keep result files small. */
export function compactJson(value: unknown): string {
  const oneLine = (inner: string): string => inner.split('\n').map((l) => l.trim()).join(' ');
  return JSON.stringify(value, null, 1)
    .replace(/\[\s*\n([^[\]{}]*?)\n\s*\]/g, (_, inner: string) => `[${oneLine(inner)}]`)
    .replace(/\{\s*\n([^[\]{}]*?)\n\s*\}/g, (whole: string, inner: string) => (inner.length <= 240 && !inner.includes('"method"') ? `{ ${oneLine(inner)} }` : whole));
}
