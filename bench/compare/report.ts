/** bench:compare's summary: markdown tables per setup and for isolation, target verdicts, the JSON result. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { MachineInfo } from '../support/machine.ts';
import { round, spread } from '../support/stats.ts';
import type { Spread } from '../support/stats.ts';
import { compactJson, sizeLabel } from '../replicator/report.ts';
import type { LatencyResult } from '../replicator/latency.ts';
import type { IsolationRepeat } from './isolation-repeat.ts';
import type { RepeatResult, ReplicatorRun, Setup } from './repeat.ts';

export const TARGETS = { throughputVsMm2: 1.5, p99VsMm2: 0.5, ofCeiling: 0.8, duplicatesAfterKill: 0 } as const;

export interface SetupResult {
  setup: Setup;
  repeats: RepeatResult[];
  failures: Array<{ repeat: number; error: string }>;
}

type Pick = (r: RepeatResult) => number | undefined | null;

const runOf = (r: RepeatResult, k: 'ours' | 'mm2'): ReplicatorRun | undefined => r[k];

function over(repeats: readonly RepeatResult[], f: Pick): Spread & { n: number } {
  const v = repeats.map(f).filter((x): x is number => typeof x === 'number' && Number.isFinite(x));
  return { ...spread(v), n: v.length };
}

/** Every figure of the table, as functions of one repeat, for ours, MM2 and the ceiling. */
export function figures(size: number): Array<{ name: string; ours: Pick; mm2: Pick; ceiling?: Pick; digits: number; lowerIsBetter?: boolean }> {
  const copy = (k: 'ours' | 'mm2') => (r: RepeatResult) => runOf(r, k)?.copy;
  const lat = (k: 'ours' | 'mm2') => (r: RepeatResult) => runOf(r, k)?.latency;
  const rec = (k: 'ours' | 'mm2') => (r: RepeatResult) => runOf(r, k)?.recovery;
  const both = (f: (k: 'ours' | 'mm2') => Pick) => ({ ours: f('ours'), mm2: f('mm2') });
  return [
    { name: 'throughput, records/s', ...both((k) => (r) => copy(k)(r)?.recordsPerSec), ceiling: (r) => r.ceiling?.recordsPerSec, digits: 0 },
    { name: 'throughput, MB/s', ...both((k) => (r) => ((copy(k)(r)?.recordsPerSec ?? Number.NaN) * size) / 1e6), ceiling: (r) => ((r.ceiling?.recordsPerSec ?? Number.NaN) * size) / 1e6, digits: 1 },
    { name: 'latency p50, ms', ...both((k) => (r) => lat(k)(r)?.p50Ms), digits: 0, lowerIsBetter: true },
    { name: 'latency p99, ms', ...both((k) => (r) => lat(k)(r)?.p99Ms), digits: 0, lowerIsBetter: true },
    { name: 'latency max, ms', ...both((k) => (r) => lat(k)(r)?.maxMs), digits: 0, lowerIsBetter: true },
    { name: 'start → first copy, s (backlog waiting)', ...both((k) => (r) => copy(k)(r)?.firstVisibleSeconds), digits: 1, lowerIsBetter: true },
    { name: 'latency phase kept up (share of repeats)', ...both((k) => (r) => { const l = lat(k)(r); return l ? (keptUp(l) ? 1 : 0) : undefined; }), digits: 2 },
    { name: 'SIGKILL → first copy by the restarted process, s', ...both((k) => (r) => { const v = rec(k)(r); return v && v.restartToFirstCopyMs !== null ? (v.restartMs + v.restartToFirstCopyMs) / 1000 : undefined; }), digits: 1, lowerIsBetter: true },
    { name: 'SIGKILL → first record produced after it copied, s', ...both((k) => (r) => { const v = rec(k)(r)?.resumeMs; return v === null || v === undefined ? undefined : v / 1000; }), digits: 1, lowerIsBetter: true },
    { name: 'SIGKILL: duplicates', ...both((k) => (r) => rec(k)(r)?.duplicates), digits: 0, lowerIsBetter: true },
    { name: 'SIGKILL: gaps', ...both((k) => (r) => rec(k)(r)?.gaps), digits: 0, lowerIsBetter: true },
    { name: 'CPU s per million records copied', ...both((k) => (r) => copy(k)(r)?.cpuSecondsPerMillion), digits: 1, lowerIsBetter: true },
    { name: 'CPU s, start → backlog copied', ...both((k) => (r) => copy(k)(r)?.cpuSecondsTotal), digits: 1, lowerIsBetter: true },
    { name: 'CPU s in the latency phase', ...both((k) => (r) => runOf(r, k)?.latencyCpuSeconds), digits: 1, lowerIsBetter: true },
    { name: 'peak RSS, MiB', ...both((k) => (r) => runOf(r, k)?.peakRssMiB || undefined), digits: 0, lowerIsBetter: true },
  ];
}

/**
 * Whether a replicator kept up with the latency phase's fixed rate: every record arrived and the
 * worst latency per second did not ramp up (last five seconds not above twice the first five
 * plus one second), which is what falling behind looks like.
 */
export function keptUp(l: LatencyResult): boolean {
  if (l.missing > 0 || l.measured === 0) return false;
  const s = l.maxPerSecondMs;
  if (s.length < 10) return true;
  const med = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
  return med(s.slice(-5)) <= 2 * med(s.slice(0, 5)) + 1_000;
}

const fmt = (d: number) => (x: number): string => (Number.isFinite(x) ? x.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d }) : 'n/a');

function cell(s: Spread & { n: number }, d: number): string {
  if (s.n === 0) return 'n/a';
  const f = fmt(d);
  return s.n > 1 && s.min !== s.max ? `${f(s.median)} (${f(s.min)}–${f(s.max)})` : f(s.median);
}

/** Per-repeat ratio a/b, then median (min–max). */
function ratio(repeats: readonly RepeatResult[], a: Pick, b: Pick): Spread & { n: number } {
  return over(repeats, (r) => {
    const x = a(r);
    const y = b(r);
    return typeof x === 'number' && typeof y === 'number' && y !== 0 ? x / y : undefined;
  });
}

export function setupTable(s: SetupResult): string {
  const rates = [...new Set(s.repeats.map((r) => r.latencyRate))].map((x) => x.toLocaleString('en-US')).join(' / ');
  const head = '| figure | ours | MM2 | ceiling | ours/MM2 | ours/ceiling |\n|---|---|---|---|---|---|';
  const rows = figures(s.setup.size).map((f) => {
    const name = f.name.startsWith('latency') ? `${f.name} (at ${rates} records/s)` : f.name;
    const ceiling = f.ceiling ? cell(over(s.repeats, f.ceiling), f.digits) : '–';
    const vsMm2 = f.name.startsWith('SIGKILL: duplicates') || f.name.startsWith('SIGKILL: gaps') || f.name.startsWith('latency phase kept up') ? '–' : cell(ratio(s.repeats, f.ours, f.mm2), 2);
    const vsCeiling = f.ceiling ? cell(ratio(s.repeats, f.ours, f.ceiling), 2) : '–';
    return `| ${name} | ${cell(over(s.repeats, f.ours), f.digits)} | ${cell(over(s.repeats, f.mm2), f.digits)} | ${ceiling} | ${vsMm2} | ${vsCeiling} |`;
  });
  const mm2VsCeiling = figures(s.setup.size)[0];
  const extra = mm2VsCeiling?.ceiling ? `\nMM2/ceiling: ${cell(ratio(s.repeats, mm2VsCeiling.mm2, mm2VsCeiling.ceiling), 2)}.` : '';
  return `**${s.setup.mode}, ${sizeLabel(s.setup.size)}** (${s.repeats.length} repeat${s.repeats.length === 1 ? '' : 's'}${s.failures.length > 0 ? `, ${s.failures.length} failed` : ''})\n\n${head}\n${rows.join('\n')}${extra}`;
}

export function isolationTable(rs: readonly IsolationRepeat[]): string {
  const of = (k: 'ours' | 'mm2', f: (r: IsolationRepeat) => number): Spread & { n: number } => {
    const v = rs.filter((r) => r.kind === k).map(f).filter((x) => Number.isFinite(x));
    return { ...spread(v), n: v.length };
  };
  const row = (name: string, f: (r: IsolationRepeat) => number, d: number): string => {
    const a = of('ours', f);
    const b = of('mm2', f);
    return `| ${name} | ${cell(a, d)} | ${cell(b, d)} | ${a.n > 0 && b.n > 0 ? fmt(2)(a.median / b.median) : 'n/a'} |`;
  };
  const alive = (k: 'ours' | 'mm2'): string => {
    const mine = rs.filter((r) => r.kind === k);
    return mine.length === 0 ? 'n/a' : `${mine.filter((r) => r.processesAlive).length} of ${mine.length}`;
  };
  const complete = (k: 'ours' | 'mm2'): string => {
    const mine = rs.filter((r) => r.kind === k);
    return mine.length === 0 ? 'n/a' : `${mine.filter((r) => r.unaffected.every((f) => f.complete)).length} of ${mine.length}`;
  };
  return [
    '| figure (the two unaffected flows together) | ours | MM2 | ours/MM2 |',
    '|---|---|---|---|',
    row('before the stop, records/s', (r) => r.beforePerSec, 0),
    row('after the stop, records/s', (r) => r.afterPerSec, 0),
    row('after / before', (r) => r.keptShare, 2),
    row('longest pause before the stop (transaction steps), s', (r) => Math.max(...r.unaffected.map((f) => f.longestPauseBeforeStopMs)) / 1000, 1),
    row('longest pause after the stop began, s', (r) => Math.max(...r.unaffected.map((f) => f.longestPauseAfterStopMs)) / 1000, 1),
    row('stopping the region took, s', (r) => r.stopSeconds, 1),
    row('start → first copy on both unaffected flows, s', (r) => r.firstCopySeconds, 1),
    `| unaffected backlogs fully copied and verified | ${complete('ours')} | ${complete('mm2')} | – |`,
    `| replicator processes alive at the end | ${alive('ours')} | ${alive('mm2')} | – |`,
  ].join('\n');
}

/** Each target from the issue, with the measured medians and whether it is met. */
export function verdicts(results: readonly SetupResult[]): string[] {
  const out: string[] = [];
  const tp = figures(0)[0];
  for (const s of results) {
    const f = figures(s.setup.size);
    const [thr, , , p99] = [f[0], f[1], f[2], f[3]];
    if (!thr || !p99 || !tp) continue;
    const label = `${s.setup.mode} ${sizeLabel(s.setup.size)}`;
    const vsMm2 = ratio(s.repeats, thr.ours, thr.mm2).median;
    const vsCeil = thr.ceiling ? ratio(s.repeats, thr.ours, thr.ceiling).median : Number.NaN;
    const p99Ratio = ratio(s.repeats, p99.ours, p99.mm2).median;
    const dup = over(s.repeats, f.find((x) => x.name === 'SIGKILL: duplicates')?.ours ?? (() => undefined));
    const gaps = over(s.repeats, f.find((x) => x.name === 'SIGKILL: gaps')?.ours ?? (() => undefined));
    const yes = (ok: boolean, x: number): string => (Number.isFinite(x) ? (ok ? 'MET' : 'NOT MET') : 'not measured');
    if (s.setup.mode === 'exactly-once') {
      out.push(`${label}: throughput ours/MM2 ${fmt(2)(vsMm2)} (target ≥ ${TARGETS.throughputVsMm2}): ${yes(vsMm2 >= TARGETS.throughputVsMm2, vsMm2)}`);
      const kept = (k: 'ours' | 'mm2'): string => `${s.repeats.filter((r) => { const l = r[k]?.latency; return l !== undefined && keptUp(l); }).length} of ${s.repeats.filter((r) => r[k]?.latency !== undefined).length}`;
      out.push(`${label}: p99 ours/MM2 ${fmt(2)(p99Ratio)} (target ≤ ${TARGETS.p99VsMm2}): ${yes(p99Ratio <= TARGETS.p99VsMm2, p99Ratio)} (kept up with the rate: ours ${kept('ours')}, MM2 ${kept('mm2')} repeats)`);
    }
    out.push(`${label}: ours/ceiling ${fmt(2)(vsCeil)} (target ≥ ${TARGETS.ofCeiling}): ${yes(vsCeil >= TARGETS.ofCeiling, vsCeil)}`);
    out.push(`${label}: ours after SIGKILL: ${dup.n > 0 ? `${fmt(0)(dup.max)} duplicates, ${fmt(0)(gaps.max)} gaps at most over ${dup.n} repeats` : 'not measured'} (target 0 duplicates): ${dup.n > 0 ? (dup.max === 0 ? 'MET' : 'NOT MET') : 'not measured'}`);
  }
  return out;
}

export interface ReportMeta {
  startedAt: Date;
  finishedAt: Date;
  command: string;
  machine: MachineInfo;
  loadAverage: { atStart: number; atEnd: number; min: number; max: number };
  regions: { origin: string; bootstrap: Record<string, string> };
  options: Record<string, unknown>;
  method: Record<string, unknown>;
  versions: Record<string, string>;
}

function roundDeep(v: unknown): unknown {
  if (typeof v === 'number') return Number.isInteger(v) ? v : round(v, 3);
  if (Array.isArray(v)) return v.map(roundDeep);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, roundDeep(x)]));
  return v;
}

export function writeJson(file: string, meta: ReportMeta, results: readonly SetupResult[], isolation: readonly IsolationRepeat[]): void {
  const summary = (s: SetupResult): Record<string, unknown> =>
    Object.fromEntries(
      figures(s.setup.size).map((f) => [
        f.name,
        {
          ours: over(s.repeats, f.ours),
          mm2: over(s.repeats, f.mm2),
          ...(f.ceiling ? { ceiling: over(s.repeats, f.ceiling), oursOverCeiling: ratio(s.repeats, f.ours, f.ceiling), mm2OverCeiling: ratio(s.repeats, f.mm2, f.ceiling) } : {}),
          oursOverMm2: ratio(s.repeats, f.ours, f.mm2),
        },
      ]),
    );
  const body = {
    benchmark: 'compare',
    startedAt: meta.startedAt.toISOString(),
    finishedAt: meta.finishedAt.toISOString(),
    durationSeconds: round((meta.finishedAt.getTime() - meta.startedAt.getTime()) / 1000, 1),
    command: meta.command,
    machine: meta.machine,
    versions: meta.versions,
    loadAverage1m: meta.loadAverage,
    regions: meta.regions,
    options: meta.options,
    method: meta.method,
    targets: TARGETS,
    verdicts: verdicts(results),
    setups: results.map((s) => ({ mode: s.setup.mode, recordBytes: s.setup.size, summary: summary(s), repeats: s.repeats, failures: s.failures })),
    isolation,
  };
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${compactJson(roundDeep(body))}\n`);
}
