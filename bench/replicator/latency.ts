/**
 * Replication latency: records stamped with the wall clock just before they are sent are
 * produced to the source at a fixed rate; a read_committed reader on the target computes
 * receive time − produce time for each. Producer and reader run in a child process, so they
 * do not queue behind the replicator on its event loop (they still share the machine's cores),
 * and both use the binding's own API, the lightest this process has (bench/support/tail-reader.ts).
 */
import { sleep } from '../../core/retry.ts';
import { produceAtRate } from '../support/kafka-bench.ts';
import { RecordFactory } from '../support/records.ts';
import { percentile } from '../support/stats.ts';
import { tailTopic } from '../support/tail-reader.ts';
import { runInChild } from '../support/ts-child.ts';

export interface LatencyInput {
  sourceBootstrap: string[];
  targetBootstrap: string[];
  sourceTopic: string;
  copyTopic: string;
  groupId: string;
  ratePerSec: number;
  partitions: number;
  size: number;
  warmupSeconds: number;
  seconds: number;
}

export interface LatencyResult {
  targetRatePerSec: number;
  achievedRatePerSec: number;
  measured: number;
  missing: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  meanMs: number;
  /** The highest latency of the records produced in each second of the measurement, in ms (a growing series means the replicator fell behind). */
  maxPerSecondMs: number[];
}

export async function measureLatency(i: LatencyInput): Promise<LatencyResult> {
  const factory = new RecordFactory(i.size);
  const capacity = Math.ceil(i.ratePerSec * (i.warmupSeconds + i.seconds + 10)) + 1_000;
  const latencies = new Float64Array(capacity).fill(Number.NaN);
  const producedAt = new Float64Array(capacity).fill(Number.NaN);
  // Tuned for latency: the broker answers a fetch at once when a record is there, after 10 ms when none is.
  const consumer = await tailTopic(i.targetBootstrap, i.copyTopic, {
    partitions: i.partitions,
    fetchWaitMs: 10,
    onMessages: (messages, at) => {
      const now = performance.timeOrigin + at;
      for (const m of messages) {
        const v = m.value;
        if (!v || v.length < 16 || v.readUInt32LE(12) !== factory.tag) continue;
        const seq = v.readUInt32LE(8);
        if (seq < capacity && Number.isNaN(latencies[seq])) {
          const sentAt = v.readDoubleLE(0);
          producedAt[seq] = sentAt;
          latencies[seq] = now - sentAt;
        }
      }
    },
  });
  try {
    // Let the reader resolve "end" before the first measured record exists.
    await sleep(1_000);
    const producer = await produceAtRate(i.sourceBootstrap, i.sourceTopic, { ratePerSec: i.ratePerSec, partitions: i.partitions, factory });
    await sleep(i.warmupSeconds * 1000);
    const from = producer.sent();
    const t0 = performance.now();
    await sleep(i.seconds * 1000);
    const to = Math.min(producer.sent(), capacity);
    const measuredSeconds = (performance.now() - t0) / 1000;
    await producer.stop();
    const received = (): number => {
      let n = 0;
      for (let k = from; k < to; k++) if (!Number.isNaN(latencies[k])) n++;
      return n;
    };
    const deadline = performance.now() + 30_000;
    while (received() < to - from && performance.now() < deadline) await sleep(200);
    const maxPerSecondMs: number[] = [];
    const origin = producedAt[from];
    for (let k = from; k < to; k++) {
      const lat = latencies[k] as number;
      const at = producedAt[k] as number;
      if (Number.isNaN(lat) || origin === undefined || Number.isNaN(origin)) continue;
      const second = Math.floor((at - origin) / 1000);
      if (second >= 0 && second < i.seconds + 5) maxPerSecondMs[second] = Math.round(Math.max(maxPerSecondMs[second] ?? 0, lat));
    }
    const measured = latencies.slice(from, to).filter((x) => !Number.isNaN(x)).sort();
    const sum = measured.reduce((a, b) => a + b, 0);
    return {
      targetRatePerSec: i.ratePerSec,
      achievedRatePerSec: (to - from) / measuredSeconds,
      measured: measured.length,
      missing: to - from - measured.length,
      p50Ms: percentile(measured, 50),
      p99Ms: percentile(measured, 99),
      maxMs: measured.length > 0 ? (measured[measured.length - 1] as number) : Number.NaN,
      meanMs: measured.length > 0 ? sum / measured.length : Number.NaN,
      maxPerSecondMs: Array.from(maxPerSecondMs, (x) => x ?? 0),
    };
  } finally {
    await consumer.stop();
  }
}

export async function measureLatencyInChild(i: LatencyInput): Promise<LatencyResult> {
  const timeoutMs = (i.warmupSeconds + i.seconds + 120) * 1000;
  const reply = await runInChild<{ result?: LatencyResult; error?: string }>(new URL('./latency-child.ts', import.meta.url), i, timeoutMs);
  if (!reply.result) throw new Error(`latency: ${reply.error ?? 'the child process reported nothing'}`);
  return reply.result;
}
