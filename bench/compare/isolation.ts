/**
 * Failure isolation across three regions. Every region gets a backlog of N records in one
 * topic, and every region copies every other region's topic (six flows), run as users run each
 * replicator: ours as one process per target region (the flows into a region share a process),
 * MirrorMaker 2 as one dedicated process covering all six flows. Once the unaffected flows
 * (those between the two regions that stay up) have copied `stopFraction` of their backlog, the
 * third region's brokers are stopped. The unaffected flows' copy rates before and after the stop
 * are compared, and the longest pause in their progress after it is reported.
 */
import type { Admin, KafkaClient } from '../../core/kafka.ts';
import type { Logger } from '../../core/logger.ts';
import { sleep } from '../../core/retry.ts';
import type { LocalRuntime } from '../../topology/runtime/local-runtime.ts';
import { countRecords, endOffsetSum, flowLikeConsumer, produceAll } from '../support/kafka-bench.ts';
import { RecordFactory } from '../support/records.ts';
import type { ReplicatorKind, ReplicatorProcess } from './replicator-process.ts';

export interface IsolationFlow {
  source: string;
  target: string;
  copyTopic: string;
}

export interface FlowProgress {
  flow: string;
  /** Records per second from the first visible copy until the stop began. */
  beforePerSec: number;
  /** Records per second from the end of the stop until the backlog was copied (or the phase ended). */
  afterPerSec: number;
  /** Longest time without any progress after the stop began (ms). */
  longestPauseAfterStopMs: number;
  /**
   * The same measure between the flow's first visible copy and the stop: the baseline. Progress
   * is visible per committed transaction, so a replicator copying a backlog in big transactions
   * shows long steps without any outage; a pause after the stop is the outage's only when it is
   * longer than this.
   */
  longestPauseBeforeStopMs: number;
  copiedBeforeStop: number;
  copiedAtEnd: number;
  /** The end-offset samples from 5 s before the stop began: [ms since the stop began, records copied]. */
  samplesAroundStop: Array<[number, number]>;
  complete: boolean;
  verified: { distinct: number; duplicates: number } | undefined;
}

export interface IsolationResult {
  kind: ReplicatorKind;
  records: number;
  stoppedRegion: string;
  stopSeconds: number;
  /** Start of the replicator process(es) → every unaffected flow shows a copy. */
  firstCopySeconds: number;
  /** Longest interval between two polls of the end offsets after the stop began (a pause shorter than this cannot be told from the polling). */
  maxSampleGapAfterStopMs: number;
  /** Sum over the unaffected flows. */
  beforePerSec: number;
  afterPerSec: number;
  /** afterPerSec / beforePerSec. */
  keptShare: number;
  unaffected: FlowProgress[];
  /** Flows from the stopped region into regions that stayed up: what they had copied when it stopped. */
  affectedCopiedBeforeStop: Record<string, number>;
  processesAlive: boolean;
}

interface Sample {
  at: number;
  sum: number;
}

/**
 * The longest time without progress among the samples taken in [from, until): from `from` (when
 * the count was `sum`) to the first change, and between changes. `openEnd`: the progress had not
 * finished by then, so the time since the last change counts too.
 */
export function longestPause(samples: readonly Sample[], from: number, sum: number, until: number, openEnd?: number): number {
  let longest = 0;
  let lastMove = from;
  let prev = sum;
  for (const x of samples) {
    if (x.at <= from) continue;
    if (x.at >= until) break;
    if (x.sum !== prev) {
      longest = Math.max(longest, x.at - lastMove);
      lastMove = x.at;
      prev = x.sum;
    }
  }
  return openEnd === undefined ? longest : Math.max(longest, openEnd - lastMove);
}

async function committedEnd(admin: Admin, topic: string): Promise<number | undefined> {
  try {
    return await endOffsetSum(admin, topic, true);
  } catch {
    return undefined;
  }
}

export async function measureIsolation(o: {
  kind: ReplicatorKind;
  regions: readonly string[];
  stop: string;
  runtime: LocalRuntime;
  kafka: (region: string) => KafkaClient;
  bootstrap: (region: string) => readonly string[];
  admin: (region: string) => Admin;
  sourceTopic: string;
  flows: readonly IsolationFlow[];
  start: () => ReplicatorProcess[];
  records: number;
  size: number;
  partitions: number;
  stopFraction: number;
  /** Longest wait for the first copy on every unaffected flow (MM2 starts one Connect herder per flow). */
  startupTimeoutSeconds: number;
  stallTimeoutSeconds: number;
  verifyGroup: string;
  log: Logger;
  progress: (line: string) => void;
}): Promise<IsolationResult> {
  const factories = new Map<string, RecordFactory>();
  for (const r of o.regions) {
    const f = new RecordFactory(o.size);
    factories.set(r, f);
    await o.admin(r).createTopics({ topics: [{ topic: o.sourceTopic, numPartitions: o.partitions }] });
    await produceAll(o.bootstrap(r), o.sourceTopic, { count: o.records, partitions: o.partitions, factory: f });
  }
  o.progress(`isolation: ${o.records} records in ${o.sourceTopic} of each of ${o.regions.join(', ')}`);
  const unaffected = o.flows.filter((f) => f.source !== o.stop && f.target !== o.stop);
  const intoUp = o.flows.filter((f) => f.source === o.stop && f.target !== o.stop);
  const samples = new Map<string, Sample[]>(unaffected.map((f) => [f.copyTopic + f.target, []]));
  const key = (f: IsolationFlow): string => f.copyTopic + f.target;
  const procs = o.start();
  const startedAt = performance.now();
  let firstCopyAt: number | undefined;
  let maxSampleGapMs = 0;
  let lastSampleAt: number | undefined;
  let stopStart: number | undefined;
  let stopEnd: number | undefined;
  let stopping: Promise<void> | undefined;
  const affectedCopiedBeforeStop: Record<string, number> = {};
  try {
    const done = (): boolean => unaffected.every((f) => (samples.get(key(f))?.at(-1)?.sum ?? 0) >= o.records);
    let lastProgress = performance.now();
    while (!done()) {
      const t0 = performance.now();
      if (stopStart !== undefined && lastSampleAt !== undefined) maxSampleGapMs = Math.max(maxSampleGapMs, t0 - lastSampleAt);
      lastSampleAt = t0;
      for (const f of unaffected) {
        const sum = await committedEnd(o.admin(f.target), f.copyTopic);
        if (sum === undefined) continue;
        const s = samples.get(key(f)) as Sample[];
        if (sum !== s.at(-1)?.sum) lastProgress = performance.now();
        s.push({ at: performance.now(), sum });
      }
      if (stopStart === undefined && unaffected.every((f) => (samples.get(key(f))?.at(-1)?.sum ?? 0) >= o.records * o.stopFraction)) {
        for (const f of intoUp) affectedCopiedBeforeStop[`${f.source}->${f.target}`] = (await committedEnd(o.admin(f.target), f.copyTopic)) ?? 0;
        stopStart = performance.now();
        o.progress(`isolation: stopping ${o.stop}'s brokers`);
        stopping = o.runtime.stop(`${o.stop}/kafka`).then(() => {
          stopEnd = performance.now();
        });
      }
      if (firstCopyAt === undefined && unaffected.every((f) => (samples.get(key(f))?.at(-1)?.sum ?? 0) > 0)) firstCopyAt = performance.now();
      if (firstCopyAt === undefined ? performance.now() - startedAt > o.startupTimeoutSeconds * 1000 : performance.now() - lastProgress > o.stallTimeoutSeconds * 1000) {
        o.progress(`isolation: ${firstCopyAt === undefined ? `no copy on every unaffected flow within ${o.startupTimeoutSeconds} s of the start` : `no progress on the unaffected flows for ${o.stallTimeoutSeconds} s`}; ending the phase`);
        break;
      }
      await sleep(Math.max(0, 200 - (performance.now() - t0)));
    }
    await stopping;
    const end = performance.now();
    const flows: FlowProgress[] = [];
    for (const f of unaffected) {
      const s = samples.get(key(f)) as Sample[];
      const first = s.find((x) => x.sum > 0);
      const at = (t: number): Sample | undefined => [...s].reverse().find((x) => x.at <= t);
      const beforeEnd = stopStart !== undefined ? at(stopStart) : undefined;
      const afterStart = stopEnd !== undefined ? at(stopEnd) : undefined;
      const last = s.at(-1);
      const finished = last ? s.find((x) => x.sum >= last.sum) : undefined;
      const rate = (a: Sample | undefined, b: Sample | undefined): number => (a && b && b.at > a.at ? (b.sum - a.sum) / ((b.at - a.at) / 1000) : Number.NaN);
      const pauseBefore = first && stopStart !== undefined ? longestPause(s, first.at, first.sum, stopStart) : 0;
      const pause = stopStart !== undefined ? longestPause(s, stopStart, at(stopStart)?.sum ?? 0, Number.POSITIVE_INFINITY, (last?.sum ?? 0) < o.records ? end : undefined) : 0;
      const complete = (last?.sum ?? 0) >= o.records;
      const verified = complete
        ? await countRecords(o.kafka(f.target), f.copyTopic, { groupId: `${o.verifyGroup}-${f.source}-${f.target}`, expected: o.records, tag: (factories.get(f.source) as RecordFactory).tag, settings: flowLikeConsumer(10_000), concurrency: 16, idleTimeoutMs: 10_000 })
        : undefined;
      flows.push({
        flow: `${f.source}->${f.target}`,
        beforePerSec: rate(first, beforeEnd),
        afterPerSec: rate(afterStart, finished),
        longestPauseAfterStopMs: pause,
        longestPauseBeforeStopMs: pauseBefore,
        copiedBeforeStop: beforeEnd?.sum ?? 0,
        copiedAtEnd: last?.sum ?? 0,
        samplesAroundStop: stopStart === undefined ? [] : s.filter((x) => x.at >= (stopStart as number) - 5_000).map((x) => [Math.round(x.at - (stopStart as number)), x.sum]),
        complete: complete && verified !== undefined && verified.distinct >= o.records,
        verified: verified ? { distinct: verified.distinct, duplicates: verified.duplicates } : undefined,
      });
    }
    const before = flows.reduce((a, f) => a + f.beforePerSec, 0);
    const after = flows.reduce((a, f) => a + f.afterPerSec, 0);
    return {
      kind: o.kind,
      records: o.records,
      stoppedRegion: o.stop,
      stopSeconds: stopStart !== undefined && stopEnd !== undefined ? (stopEnd - stopStart) / 1000 : Number.NaN,
      firstCopySeconds: firstCopyAt !== undefined ? (firstCopyAt - startedAt) / 1000 : Number.NaN,
      maxSampleGapAfterStopMs: maxSampleGapMs,
      beforePerSec: before,
      afterPerSec: after,
      keptShare: after / before,
      unaffected: flows,
      affectedCopiedBeforeStop,
      processesAlive: procs.every((p) => p.running()),
    };
  } finally {
    // With a region down, a graceful drain may wait on it: bounded, then SIGKILL.
    await Promise.all(procs.map((p) => p.stop(20_000)));
    await stopping?.catch(() => undefined);
    await o.runtime.start(`${o.stop}/kafka`);
    o.progress(`isolation: ${o.stop}'s brokers are back`);
  }
}
