/**
 * From a phase's raw timestamps to its figures. Only measured documents count: sampled ones
 * (seq % sampleEvery === 0) whose request was sent in the measured window (after the warm-up, by
 * the clock: when the writer falls behind its schedule, documents are sent later than due) and
 * answered 202. Per region:
 * - latency from the 202 (and from just before the request) to the first search that found the
 *   document with the 202's version; p50/p99 nearest-rank, max;
 * - cumulative stages from the 202: readable in Kafka (probe), taken in by the indexer, bulk
 *   sent, bulk answered, searchable; and, for the slowest 1 %, the mean of each step;
 * - indexing throughput: indexed + stale per second over the measured window (status counts).
 */
import type { CpuUsage } from '../support/process-cpu.ts';
import { percentile, round } from '../support/stats.ts';
import type { PhaseRaw } from './phase.ts';

export interface Dist {
  n: number;
  p50: number;
  p99: number;
  max: number;
}

export interface StageSteps {
  /** 202 → readable from the topic the indexer consumes (remote: the replicator's commit). */
  toKafka: number;
  /** → taken in by the indexer (its consumer's batch handed over). */
  toIndexer: number;
  /** → its bulk sent (waiting for the flush interval or the lane's bulk in flight). */
  toBulk: number;
  /** → the bulk answered. */
  bulk: number;
  /** → found by a search (the refresh, plus the observer's resolution). */
  toSearchable: number;
}

export interface RegionFigures {
  region: string;
  local: boolean;
  /** Measured sampled documents (written with a 202 after the warm-up). */
  sampled: number;
  found: number;
  /** Never found within the drain timeout. */
  missing: number;
  /** Found, but with another version than the 202's. */
  wrongVersion: number;
  fromAck: Dist;
  fromSend: Dist;
  /** Lower bound of fromAck: the previous search (which did not find it) as the moment. */
  fromAckLowerBound: Dist;
  /** Cumulative ms from the 202, each stage. */
  stages: { kafka: Dist; indexer: Dist; bulkSent: Dist; bulkDone: Dist; searchable: Dist };
  /** Each step's own distribution over the measured documents (refresh wait = toSearchable). */
  steps: Record<keyof StageSteps, Dist>;
  /** Mean ms of each step over the documents at or above the p99 of fromAck (and over all). */
  stepsAll: StageSteps | undefined;
  stepsTail: StageSteps | undefined;
  tailDocs: number;
  /** Applied (indexed + stale) per second over the measured window, from the indexer's status counts. */
  appliedPerSec: number;
  /** The indexer's own freshness for the writing region during the window (status), ms. */
  reportedFreshnessMs: Dist;
  bulks: { count: number; docsP50: number; docsMax: number; msP50: number; msP99: number; msMax: number };
  search: { searches: number; failed: number; roundTripP50: number; roundTripP99: number; intervalP50: number; intervalP99: number; idsP50: number; idsMax: number; capped: number };
  /** The worst fromAck of the documents written in each second of the measured window (a stall shows as a ramp). */
  maxPerSecondMs: Array<number | null>;
}

export interface PhaseFigures {
  tag: string;
  rate: number;
  documents: number;
  warmupDocuments: number;
  offeredPerSec: number;
  /** Held back by the writer's in-flight cap until the schedule was over, never sent. */
  notSent: number;
  accepted: number;
  refused: Record<string, number>;
  /** send → 202 over every document of the phase. */
  ingestAckMs: { p50: number; p99: number; max: number };
  generatorLateMs: { p50: number; p99: number; max: number };
  generatorMaxInFlight: number;
  regions: RegionFigures[];
  /** Cores used over the measured window, per process and in total (see bench/support/process-cpu.ts). */
  cpu: CpuUsage | undefined;
  /** Copy transactions committed per second in the measured window, by the replicator's region. */
  transactionsPerSec: Record<string, number>;
}

export function dist(values: readonly number[]): Dist {
  const s = Float64Array.from(values.filter((v) => Number.isFinite(v))).sort();
  return { n: s.length, p50: round(percentile(s, 50), 1), p99: round(percentile(s, 99), 1), max: round(s[s.length - 1] ?? Number.NaN, 1) };
}

const num = (v: number | null | undefined): number => (v === null || v === undefined ? Number.NaN : v);

function mean(values: number[]): number {
  const v = values.filter((x) => Number.isFinite(x));
  return v.length === 0 ? Number.NaN : round(v.reduce((a, b) => a + b, 0) / v.length, 1);
}

export function analysePhase(raw: PhaseRaw, writeRegion: string): PhaseFigures {
  const { load } = raw;
  const regions = raw.seen.map((seen): RegionFigures => {
    const region = seen.region;
    const probe = raw.probe[region] ?? [];
    const trace = raw.traces[region];
    const fromAck: number[] = [];
    const fromSend: number[] = [];
    const lower: number[] = [];
    const st = { kafka: [] as number[], indexer: [] as number[], bulkSent: [] as number[], bulkDone: [] as number[], searchable: [] as number[] };
    const rows: Array<{ total: number; steps: StageSteps }> = [];
    const perSecond: Array<number | null> = Array.from({ length: Math.ceil((raw.windowTo - raw.windowFrom) / 1000) }, () => null);
    let sampled = 0;
    let found = 0;
    let wrongVersion = 0;
    for (let k = 0; k < seen.seenAt.length; k++) {
      const seq = k * raw.sampleEvery;
      if (!(num(load.sendAt[seq]) >= raw.windowFrom)) continue;
      const ack = num(load.ackAt[seq]);
      if (!Number.isFinite(ack)) continue;
      sampled++;
      const at = num(seen.seenAt[k]);
      if (!Number.isFinite(at)) continue;
      if (seen.versions[k] !== load.versions[seq]) {
        wrongVersion++;
        continue;
      }
      found++;
      fromAck.push(at - ack);
      const second = Math.floor((ack - raw.windowFrom) / 1000);
      if (second >= 0 && second < perSecond.length) perSecond[second] = round(Math.max(perSecond[second] ?? 0, at - ack), 0);
      fromSend.push(at - num(load.sendAt[seq]));
      lower.push(Math.max(0, num(seen.previousSearchAt[k]) - ack));
      const kafka = num(probe[k]);
      const takenIn = num(trace?.takenInAt[k]);
      const bulkStart = num(trace?.bulkStartAt[k]);
      const bulkEnd = num(trace?.bulkEndAt[k]);
      st.kafka.push(kafka - ack);
      st.indexer.push(takenIn - ack);
      st.bulkSent.push(bulkStart - ack);
      st.bulkDone.push(bulkEnd - ack);
      st.searchable.push(at - ack);
      // Without the Kafka probe, "to the indexer" runs from the 202.
      rows.push({ total: at - ack, steps: { toKafka: kafka - ack, toIndexer: takenIn - (Number.isFinite(kafka) ? kafka : ack), toBulk: bulkStart - takenIn, bulk: bulkEnd - bulkStart, toSearchable: at - bulkEnd } });
    }
    const p99 = percentile(Float64Array.from(fromAck).sort(), 99);
    const tail = rows.filter((r) => r.total >= p99);
    const steps = (rs: typeof rows): StageSteps | undefined =>
      rs.length === 0
        ? undefined
        : {
            toKafka: mean(rs.map((r) => r.steps.toKafka)),
            toIndexer: mean(rs.map((r) => r.steps.toIndexer)),
            toBulk: mean(rs.map((r) => r.steps.toBulk)),
            bulk: mean(rs.map((r) => r.steps.bulk)),
            toSearchable: mean(rs.map((r) => r.steps.toSearchable)),
          };
    const inWindow = raw.statuses.filter((s) => s.at >= raw.windowFrom && s.at <= raw.windowTo);
    const first = inWindow[0];
    const last = inWindow[inWindow.length - 1];
    const appliedPerSec = first && last && last.at > first.at ? round(((last.applied[region] ?? 0) - (first.applied[region] ?? 0)) / ((last.at - first.at) / 1000), 1) : Number.NaN;
    const reported = inWindow.map((s) => num(s.freshnessMs[region]?.[writeRegion]));
    const bulks = (trace?.bulks ?? []).filter((b) => b.at >= raw.windowFrom && b.at <= raw.windowTo);
    const bulkDocs = dist(bulks.map((b) => b.docs));
    const bulkMs = dist(bulks.map((b) => b.ms));
    return {
      region,
      local: region === writeRegion,
      sampled,
      found,
      missing: sampled - found - wrongVersion,
      wrongVersion,
      fromAck: dist(fromAck),
      fromSend: dist(fromSend),
      fromAckLowerBound: dist(lower),
      stages: { kafka: dist(st.kafka), indexer: dist(st.indexer), bulkSent: dist(st.bulkSent), bulkDone: dist(st.bulkDone), searchable: dist(st.searchable) },
      steps: {
        toKafka: dist(rows.map((r) => r.steps.toKafka)),
        toIndexer: dist(rows.map((r) => r.steps.toIndexer)),
        toBulk: dist(rows.map((r) => r.steps.toBulk)),
        bulk: dist(rows.map((r) => r.steps.bulk)),
        toSearchable: dist(rows.map((r) => r.steps.toSearchable)),
      },
      stepsAll: steps(rows),
      stepsTail: steps(tail),
      tailDocs: tail.length,
      appliedPerSec,
      reportedFreshnessMs: dist(reported),
      bulks: { count: bulks.length, docsP50: bulkDocs.p50, docsMax: bulkDocs.max, msP50: bulkMs.p50, msP99: bulkMs.p99, msMax: bulkMs.max },
      maxPerSecondMs: perSecond,
      search: { searches: seen.searches, failed: seen.failedSearches, roundTripP50: seen.searchMs.p50, roundTripP99: seen.searchMs.p99, intervalP50: seen.intervalMs.p50, intervalP99: seen.intervalMs.p99, idsP50: seen.idsPerSearch.p50, idsMax: seen.idsPerSearch.max, capped: seen.cappedSearches },
    };
  });
  return {
    tag: raw.tag,
    rate: raw.rate,
    documents: raw.count,
    warmupDocuments: raw.warmupCount,
    offeredPerSec: load.offeredPerSec,
    notSent: load.notSent,
    accepted: load.accepted,
    refused: load.refused,
    ingestAckMs: load.ackMs,
    generatorLateMs: load.lateMs,
    generatorMaxInFlight: load.maxInFlight,
    regions,
    cpu: raw.cpu,
    transactionsPerSec: raw.transactionsPerSec,
  };
}
