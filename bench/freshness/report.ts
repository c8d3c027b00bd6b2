/** The freshness benchmark's summary: tables for the console and docs, verdicts, the JSON result. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { MachineInfo } from '../support/machine.ts';
import { round, spread } from '../support/stats.ts';
import type { Spread } from '../support/stats.ts';
import { compactJson } from '../replicator/report.ts';
import type { RegionFigures, StageSteps } from './analysis.ts';
import type { RepeatResult } from './repeat.ts';

export const TARGETS = { rate: 500, localP99Ms: 1_500, remoteP99Ms: 2_000 } as const;

export const METHOD = {
  writes:
    'PUT /documents/<run>-<seq> to the ingest API (buildIngestApi, its own process) over HTTP keep-alive, open loop at a fixed rate (document seq due at start + seq/rate), from a writer process of its own; body = exactly --doc-bytes of JSON (run, seq, title, text of words from a fixed 2,000-word vocabulary)',
  searchable:
    'a document is searchable when a search on the region\'s OpenSearch (alias of the run; ids filter + the live-documents filter every search uses) returns it with the version its 202 carried; the observer (a process of its own) searches every --poll-ms per region for the sampled documents (seq % --sample-every == 0) that are due and not yet found, so each search only carries missing ids; searchable time = arrival of the first answer holding the document (an upper bound: at most one poll interval + one search round trip late; the lower bound, the send time of the previous search, is in the JSON)',
  latency: 'from the 202 (its arrival at the writer) to searchable; also from just before the request (JSON: fromSend); only sampled documents whose request was sent after the warm-up (by the clock) and got a 202; p50/p99 nearest-rank; max; a document never found within the drain timeout is counted as missing, not in the percentiles',
  throughput: 'applied = indexed + stale per second from the indexer\'s status counts, read every second, over the measured window (bounded by the offered rate when the indexer keeps up)',
  capacity: 'after the rate phases, with the services stopped: per region, one at a time, a fresh indexer (own process, group and alias, same topics and defaults) applies the run\'s whole backlog; rate = (expected - applied at the first sample showing any) / (time of the sample showing all - that time), status read every 100 ms',
  ceiling: 'per region, one at a time, after the capacity: the same documents (ids, bodies, versions, bookkeeping fields) serialised as the indexer does (index action, version_type external) written straight to OpenSearch into a fresh index with the same mappings and settings (refresh_interval 1 s), bulks up to the indexer\'s flushBytes (5 MiB), 2 in flight (its lanes), bodies built before the clock starts; first send to last answer',
  stages:
    'per sampled document, cumulative from the 202: with --kafka-probe, readable (read_committed) from the topic the region\'s indexer consumes (a probe consumer per region, fetch.wait.max.ms=10; remote: the copy us-east.<documents>, i.e. after the replicator\'s transaction commit); taken in by the indexer (remote: after the replicator\'s commit and the indexer\'s fetch) (Indexer.prototype.onBatch wrapped); its bulk sent and answered (BulkWriter.prototype.write wrapped); searchable',
  services: 'per region a Replicator (exactly-once, the deployment\'s defaults) and an Indexer (defaults: flushIntervalMs 200, flushBytes 5 MiB, 2 lanes), the ingest API in the writing region (defaults: acks=all, linger.ms 5), each in its own Node process built with the real constructors; every repeat has its own topics, replication instance and include prefix, heartbeat topic, index alias and groups, deleted afterwards',
} as const;

export interface PhaseSummary {
  rate: number;
  region: string;
  local: boolean;
  repeats: number;
  samples: Spread;
  missing: number;
  wrongVersion: number;
  p50Ms: Spread;
  p99Ms: Spread;
  maxMs: Spread;
  p99FromSendMs: Spread;
  /** p99 with the previous search's send time as the moment (the observer's lower bound). */
  p99LowerBoundMs: Spread;
  appliedPerSec: Spread;
  /** applied / bulk ceiling of the same repeat and region. */
  appliedRatio: Spread;
  stagesP50: Record<keyof RegionFigures['stages'], number>;
  stagesP99: Record<keyof RegionFigures['stages'], number>;
  tailSteps: Record<keyof StageSteps, number>;
  allSteps: Record<keyof StageSteps, number>;
  /** Medians over the repeats of each step's p50 and p99. */
  stepsP50: Record<keyof StageSteps, number>;
  stepsP99: Record<keyof StageSteps, number>;
}

export interface RegionThroughput {
  region: string;
  capacityPerSec: Spread;
  ceilingPerSec: Spread;
  capacityRatio: Spread;
}

function regionsOf(repeats: readonly RepeatResult[]): string[] {
  return [...new Set(repeats.flatMap((r) => r.phases.flatMap((p) => p.regions.map((x) => x.region))))];
}

export function summarizePhases(repeats: readonly RepeatResult[], rates: readonly number[]): PhaseSummary[] {
  const out: PhaseSummary[] = [];
  for (const rate of rates) {
    for (const region of regionsOf(repeats)) {
      const rows = repeats.flatMap((r) => {
        const f = r.phases.find((p) => p.rate === rate)?.regions.find((x) => x.region === region);
        const ceiling = r.ceiling.find((c) => c.region === region)?.docsPerSec ?? Number.NaN;
        return f ? [{ f, ceiling }] : [];
      });
      if (rows.length === 0) continue;
      const of = (g: (f: RegionFigures) => number): Spread => spread(rows.map((x) => g(x.f)));
      const med = (g: (f: RegionFigures) => number): number => round(spread(rows.map((x) => g(x.f))).median, 1);
      const stages = (pick: 'p50' | 'p99'): PhaseSummary['stagesP50'] => ({
        kafka: med((f) => f.stages.kafka[pick]),
        indexer: med((f) => f.stages.indexer[pick]),
        bulkSent: med((f) => f.stages.bulkSent[pick]),
        bulkDone: med((f) => f.stages.bulkDone[pick]),
        searchable: med((f) => f.stages.searchable[pick]),
      });
      const steps = (pick: 'stepsTail' | 'stepsAll'): PhaseSummary['tailSteps'] => ({
        toKafka: med((f) => f[pick]?.toKafka ?? Number.NaN),
        toIndexer: med((f) => f[pick]?.toIndexer ?? Number.NaN),
        toBulk: med((f) => f[pick]?.toBulk ?? Number.NaN),
        bulk: med((f) => f[pick]?.bulk ?? Number.NaN),
        toSearchable: med((f) => f[pick]?.toSearchable ?? Number.NaN),
      });
      const stepDists = (pick: 'p50' | 'p99'): PhaseSummary['stepsP50'] => ({
        toKafka: med((f) => f.steps.toKafka[pick]),
        toIndexer: med((f) => f.steps.toIndexer[pick]),
        toBulk: med((f) => f.steps.toBulk[pick]),
        bulk: med((f) => f.steps.bulk[pick]),
        toSearchable: med((f) => f.steps.toSearchable[pick]),
      });
      out.push({
        rate,
        region,
        local: rows[0]?.f.local ?? false,
        repeats: rows.length,
        samples: of((f) => f.found),
        missing: rows.reduce((n, x) => n + x.f.missing, 0),
        wrongVersion: rows.reduce((n, x) => n + x.f.wrongVersion, 0),
        p50Ms: of((f) => f.fromAck.p50),
        p99Ms: of((f) => f.fromAck.p99),
        maxMs: of((f) => f.fromAck.max),
        p99FromSendMs: of((f) => f.fromSend.p99),
        p99LowerBoundMs: of((f) => f.fromAckLowerBound.p99),
        appliedPerSec: of((f) => f.appliedPerSec),
        appliedRatio: spread(rows.map((x) => x.f.appliedPerSec / x.ceiling)),
        stagesP50: stages('p50'),
        stagesP99: stages('p99'),
        tailSteps: steps('stepsTail'),
        allSteps: steps('stepsAll'),
        stepsP50: stepDists('p50'),
        stepsP99: stepDists('p99'),
      });
    }
  }
  return out;
}

export function summarizeThroughput(repeats: readonly RepeatResult[]): RegionThroughput[] {
  return regionsOf(repeats).map((region) => {
    const pairs = repeats.map((r) => ({ cap: r.capacity.find((c) => c.region === region), ceil: r.ceiling.find((c) => c.region === region) }));
    return {
      region,
      capacityPerSec: spread(pairs.map((p) => (p.cap?.complete ? p.cap.docsPerSec : Number.NaN))),
      ceilingPerSec: spread(pairs.map((p) => p.ceil?.docsPerSec ?? Number.NaN)),
      capacityRatio: spread(pairs.map((p) => (p.cap?.complete ? p.cap.docsPerSec : Number.NaN) / (p.ceil?.docsPerSec ?? Number.NaN))),
    };
  });
}

const int = (x: number): string => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : 'n/a');
const fix = (d: number) => (x: number): string => (Number.isFinite(x) ? x.toFixed(d) : 'n/a');

function cell(s: Spread, f: (x: number) => string): string {
  if (!Number.isFinite(s.median)) return 'n/a';
  return s.min !== s.max ? `${f(s.median)} (${f(s.min)}–${f(s.max)})` : f(s.median);
}

export function latencyTable(phases: readonly PhaseSummary[]): string {
  const head = '| rate docs/s | region | samples | p50 ms | p99 ms | max ms | p99 lower bound ms | p99 from before the request, ms | not found |\n|---|---|---|---|---|---|---|---|---|';
  const rows = phases.map((p) => `| ${int(p.rate)} | ${p.region}${p.local ? ' (local)' : ''} | ${cell(p.samples, int)} | ${cell(p.p50Ms, int)} | **${cell(p.p99Ms, int)}** | ${cell(p.maxMs, int)} | ${cell(p.p99LowerBoundMs, int)} | ${cell(p.p99FromSendMs, int)} | ${p.missing}${p.wrongVersion > 0 ? ` (+${p.wrongVersion} wrong version)` : ''} |`);
  return [head, ...rows].join('\n');
}

export function throughputTable(phases: readonly PhaseSummary[], regions: readonly RegionThroughput[], rates: readonly number[]): string {
  const head = `| region | ${rates.map((r) => `applied docs/s at ${int(r)}/s`).join(' | ')} | capacity docs/s (backlog) | bulk ceiling docs/s | ${rates.map((r) => `applied / ceiling at ${int(r)}/s`).join(' | ')} | capacity / ceiling |\n|---|${rates.map(() => '---|').join('')}---|---|${rates.map(() => '---|').join('')}---|`;
  const rows = regions.map((t) => {
    const of = (rate: number): PhaseSummary | undefined => phases.find((p) => p.rate === rate && p.region === t.region);
    const applied = rates.map((r) => {
      const p = of(r);
      return p ? cell(p.appliedPerSec, int) : 'n/a';
    });
    const ratios = rates.map((r) => {
      const p = of(r);
      return p ? cell(p.appliedRatio, fix(2)) : 'n/a';
    });
    return `| ${t.region} | ${applied.join(' | ')} | ${cell(t.capacityPerSec, int)} | ${cell(t.ceilingPerSec, int)} | ${ratios.join(' | ')} | ${cell(t.capacityRatio, fix(2))} |`;
  });
  return [head, ...rows].join('\n');
}

export function stageTable(phases: readonly PhaseSummary[]): string {
  const head = '| rate | region | readable in Kafka | taken in by indexer | bulk sent | bulk answered | searchable |\n|---|---|---|---|---|---|---|';
  const rows = phases.map((p) => {
    const c = (k: keyof PhaseSummary['stagesP50']): string => `${int(p.stagesP50[k])} / ${int(p.stagesP99[k])}`;
    return `| ${int(p.rate)} | ${p.region} | ${c('kafka')} | ${c('indexer')} | ${c('bulkSent')} | ${c('bulkDone')} | ${c('searchable')} |`;
  });
  return [head, ...rows].join('\n');
}

export function stepTable(phases: readonly PhaseSummary[]): string {
  const head = '| rate | region | 202 → Kafka | → taken in by indexer | → bulk sent (flush wait) | bulk | → searchable (refresh wait + observer) |\n|---|---|---|---|---|---|---|';
  const rows = phases.map((p) => {
    const c = (k: keyof StageSteps): string => (Number.isFinite(p.stepsP50[k]) ? `${int(p.stepsP50[k])} / ${int(p.stepsP99[k])} / ${int(p.tailSteps[k])}` : 'n/a');
    return `| ${int(p.rate)} | ${p.region} | ${c('toKafka')} | ${c('toIndexer')} | ${c('toBulk')} | ${c('bulk')} | ${c('toSearchable')} |`;
  });
  return [head, ...rows].join('\n');
}

export function ingestTable(repeats: readonly RepeatResult[], rates: readonly number[]): string {
  const head = '| rate | offered docs/s | 202s | other answers | not sent (in-flight cap) | send → 202 p50 / p99 / max ms | writer late p99 ms |\n|---|---|---|---|---|---|---|';
  const rows = rates.map((rate) => {
    const ps = repeats.flatMap((r) => r.phases.filter((p) => p.rate === rate));
    const refused = ps.reduce((n, p) => n + Object.values(p.refused).reduce((a, b) => a + b, 0), 0);
    const s = (g: (p: (typeof ps)[number]) => number): Spread => spread(ps.map(g));
    const notSent = ps.reduce((n, p) => n + p.notSent, 0);
    return `| ${int(rate)} | ${cell(s((p) => p.offeredPerSec), int)} | ${cell(s((p) => p.accepted), int)} | ${refused} | ${notSent} | ${cell(s((p) => p.ingestAckMs.p50), fix(1))} / ${cell(s((p) => p.ingestAckMs.p99), int)} / ${cell(s((p) => p.ingestAckMs.max), int)} | ${cell(s((p) => p.generatorLateMs.p99), fix(1))} |`;
  });
  return [head, ...rows].join('\n');
}

/** Whether the medians meet the issue's targets (p99 at 500 docs/s). */
export function verdicts(phases: readonly PhaseSummary[]): string[] {
  return phases
    .filter((p) => p.rate === TARGETS.rate)
    .map((p) => {
      const target = p.local ? TARGETS.localP99Ms : TARGETS.remoteP99Ms;
      const met = p.p99Ms.median < target && p.missing === 0;
      const all = p.p99Ms.max < target && p.missing === 0;
      return `${p.region} (${p.local ? 'local' : 'remote'}) at ${TARGETS.rate}/s: p99 ${int(p.p99Ms.median)} ms (repeats ${int(p.p99Ms.min)}–${int(p.p99Ms.max)}) ${met ? 'MEETS' : 'MISSES'} the target < ${int(target)} ms${met && !all ? ' (not in every repeat)' : ''}${p.missing > 0 ? `; ${p.missing} documents never found` : ''}`;
    });
}

export interface ReportMeta {
  startedAt: Date;
  finishedAt: Date;
  command: string;
  machine: MachineInfo & { opensearch: string; opensearchJdk: string };
  loadAverage1mAtEnd: number;
  regions: { origin: string; endpoints: Record<string, { kafka: string; search: string }> };
  options: Record<string, unknown>;
  /** The unmeasured run before the repeats (run.ts warmUpJvms), if there was one. */
  jvmWarmup: JvmWarmup | undefined;
}

export interface JvmWarmup {
  seconds: number;
  rate: number;
  /** Its p50 from the 202 to searchable, per region (null: nothing found). */
  p50Ms: Record<string, number | null>;
  error: string | undefined;
}

export function writeJson(file: string, meta: ReportMeta, repeats: readonly RepeatResult[], failures: ReadonlyArray<{ repeat: number; error: string }>, rates: readonly number[]): void {
  const phases = summarizePhases(repeats, rates);
  const body = {
    benchmark: 'freshness',
    startedAt: meta.startedAt.toISOString(),
    finishedAt: meta.finishedAt.toISOString(),
    durationSeconds: round((meta.finishedAt.getTime() - meta.startedAt.getTime()) / 1000, 1),
    command: meta.command,
    machine: meta.machine,
    loadAverage1mAtEnd: meta.loadAverage1mAtEnd,
    regions: meta.regions,
    options: meta.options,
    jvmWarmup: meta.jvmWarmup ?? null,
    method: METHOD,
    targets: TARGETS,
    verdicts: verdicts(phases),
    summary: { phases, throughput: summarizeThroughput(repeats) },
    repeats,
    failures,
  };
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${compactJson(body)}\n`);
}
