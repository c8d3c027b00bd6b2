/**
 * Times a replicator process copying a pre-filled backlog, the same way for ours and for MM2:
 * the copy's read_committed end offsets are polled every `pollMs`; once they cover the backlog
 * and stop moving, a read_committed consumer counts the distinct records of the run on the
 * target (end offsets alone include exactly-once commit markers and would count duplicates).
 * Rate = (records − end offsets at the first sample showing any copy) / (time of the sample that
 * first showed the final end offsets − time of that first sample): startup is excluded.
 */
import type { Admin, KafkaClient } from '../../core/kafka.ts';
import type { Logger } from '../../core/logger.ts';
import { sleep } from '../../core/retry.ts';
import { countRecords, endOffsetSum, flowLikeConsumer } from '../support/kafka-bench.ts';
import type { ReplicatorProcess } from './replicator-process.ts';

export interface CopyResult {
  recordsPerSec: number;
  /** Spawn → first copy visible (startup: JVM or Node, connect, group join, topic creation). */
  firstVisibleSeconds: number;
  allVisibleSeconds: number;
  windowSeconds: number;
  committedEndOffsets: number;
  verified: { distinct: number; duplicates: number; foreign: number; records: number };
  /** CPU seconds of the replicator process from spawn to all copies visible, and within the rate window only. */
  cpuSecondsTotal: number;
  cpuSecondsWindow: number;
  /** CPU seconds per million copied records, over the rate window. */
  cpuSecondsPerMillion: number;
  peakRssMiB: number;
  /** The rate window on the monotonic clock in µs: the clock of `node --cpu-prof` profiles. */
  windowMonotonicUs: [number, number];
  /** The same window in wall-clock ms (Date.now()), the clock of librdkafka statistics lines. */
  windowWallMs: [number, number];
}

/** performance.now() → the monotonic clock (process.hrtime, shared by every process on Linux), in µs. */
function toMonotonicUs(at: number): number {
  return Math.round(Number(process.hrtime.bigint() / 1000n) - (performance.now() - at) * 1000);
}

/** Sum of read_committed end offsets of `topic`, or undefined while it does not exist. */
async function committedEnd(admin: Admin, topic: string): Promise<number | undefined> {
  try {
    return await endOffsetSum(admin, topic, true);
  } catch {
    return undefined;
  }
}

export async function timeCopy(o: { proc: ReplicatorProcess; admin: Admin; target: KafkaClient; copyTopic: string; records: number; tag: number; verifyGroup: string; pollMs: number; stallTimeoutSeconds: number; log: Logger }): Promise<CopyResult> {
  const samples: Array<{ at: number; sum: number; cpu: number }> = [];
  const stableMs = 1_500;
  let last = -1;
  let lastChangeAt = performance.now();
  let mustExceed = o.records - 1;
  let attempt = 0;
  for (;;) {
    const t0 = performance.now();
    if (!o.proc.running()) throw new Error(`${o.proc.kind} exited during the copy (${JSON.stringify(await o.proc.exited)}); see ${o.proc.logFile}`);
    const sum = await committedEnd(o.admin, o.copyTopic);
    if (sum !== undefined) {
      const at = (t0 + performance.now()) / 2;
      samples.push({ at, sum, cpu: o.proc.resources.read().cpuSeconds });
      if (sum !== last) {
        last = sum;
        lastChangeAt = at;
      }
    }
    const now = performance.now();
    if (last > mustExceed && now - lastChangeAt >= stableMs) {
      attempt++;
      const verified = await countRecords(o.target, o.copyTopic, { groupId: `${o.verifyGroup}-${attempt}`, expected: o.records, tag: o.tag, settings: flowLikeConsumer(10_000), concurrency: 16, idleTimeoutMs: 10_000 });
      if (verified.distinct >= o.records) {
        const first = samples.find((s) => s.sum > 0);
        const done = samples.find((s) => s.sum >= last);
        if (!first || !done) throw new Error('copy: no end-offset samples');
        const windowMs = done.at - first.at;
        const copied = o.records - first.sum;
        const recordsPerSec = windowMs > 0 ? copied / (windowMs / 1000) : o.records / ((done.at - o.proc.spawnedAt) / 1000);
        const cpuWindow = done.cpu - first.cpu;
        return {
          recordsPerSec,
          firstVisibleSeconds: (first.at - o.proc.spawnedAt) / 1000,
          allVisibleSeconds: (done.at - o.proc.spawnedAt) / 1000,
          windowSeconds: windowMs / 1000,
          committedEndOffsets: last,
          verified: { distinct: verified.distinct, duplicates: verified.duplicates, foreign: verified.foreign, records: verified.records },
          cpuSecondsTotal: done.cpu,
          cpuSecondsWindow: cpuWindow,
          cpuSecondsPerMillion: copied > 0 ? cpuWindow / (copied / 1e6) : Number.NaN,
          peakRssMiB: o.proc.resources.read().peakRssMiB,
          windowMonotonicUs: [toMonotonicUs(first.at), toMonotonicUs(done.at)],
          windowWallMs: [Math.round(Date.now() - (performance.now() - first.at)), Math.round(Date.now() - (performance.now() - done.at))],
        };
      }
      o.log.warn({ distinct: verified.distinct, expected: o.records }, 'copy not complete yet although end offsets were stable; waiting');
      mustExceed = last;
    }
    if (now - lastChangeAt > o.stallTimeoutSeconds * 1000) throw new Error(`copy: no progress for ${o.stallTimeoutSeconds} s (read_committed end offsets ${last}, ${o.records} records expected); see ${o.proc.logFile}`);
    await sleep(Math.max(0, o.pollMs - (performance.now() - t0)));
  }
}
