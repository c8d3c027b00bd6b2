/**
 * What `--profile-ours` found, over the throughput window only: the main thread's CPU profile
 * (bench/support/cpu-profile.ts) and the librdkafka statistics lines written by rdkafka-stats.ts.
 * Producer figures are medians over the intervals in which a producer sent anything.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { summarizeProfile } from '../support/cpu-profile.ts';
import { percentile, round } from '../support/stats.ts';

export interface OursProfile {
  profileFile: string | undefined;
  samples: number;
  /** Share of main-thread samples, top entries: self time and inclusive time. */
  self: Array<[string, number]>;
  inclusive: Array<[string, number]>;
  rdkafka: {
    statsFile: string;
    producerIntervals: number;
    /** librdkafka's internal queue latency (record handed to librdkafka → in a request), µs. */
    producerQueueLatencyUs: { p50: number; p99: number };
    /** Time in the broker output buffer before being sent, µs. */
    producerOutbufLatencyUs: { p50: number; p99: number };
    /** Produce round trip, µs. */
    producerRttUs: { p50: number; p99: number };
    /** Average bytes per produce batch (per partition request). */
    producerBatchBytes: number;
    /** Most records waiting in the consumer's prefetch queue at once (librdkafka memory). */
    consumerPrefetchedRecordsMax: number;
  } | undefined;
}

interface StatsLine {
  at: number;
  type?: string;
  /** librdkafka's client name, `<client.id>#producer-<n>`. */
  name?: string;
  txmsgs?: number;
  brokers?: Array<{ intLatencyUs?: number[]; outbufLatencyUs?: number[]; rttUs?: number[] }>;
  topics?: Array<{ batchSizeAvg?: number; fetchq?: number }>;
}

function mainThreadProfile(dir: string): string | undefined {
  if (!existsSync(dir)) return undefined;
  // One file per thread; the main thread's is the largest (the others belong to tsx's loader worker).
  const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).map((f) => join(dir, f));
  return files.sort((a, b) => statSync(b).size - statSync(a).size)[0];
}

function median(xs: number[]): number {
  return percentile(Float64Array.from(xs).sort(), 50);
}

export function summarizeOursProfile(o: { profileDir: string; statsFile: string; windowMonotonicUs: [number, number]; windowWallMs: [number, number] }): OursProfile {
  const file = mainThreadProfile(o.profileDir);
  let samples = 0;
  let self: Array<[string, number]> = [];
  let inclusive: Array<[string, number]> = [];
  if (file) {
    const p = summarizeProfile(JSON.parse(readFileSync(file, 'utf8')) as Parameters<typeof summarizeProfile>[0], { fromUs: o.windowMonotonicUs[0], toUs: o.windowMonotonicUs[1] });
    samples = p.samples;
    self = p.self.slice(0, 15).map(([k, v]) => [k, round(v, 3)]);
    inclusive = p.inclusive.slice(0, 25).map(([k, v]) => [k, round(v, 3)]);
  }
  let rdkafka: OursProfile['rdkafka'];
  if (existsSync(o.statsFile)) {
    const lines = readFileSync(o.statsFile, 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as StatsLine)
      .filter((l) => l.at >= o.windowWallMs[0] && l.at <= o.windowWallMs[1]);
    // The copy producers only: their client id is the flow's id (`<source>-><target>`); the
    // flow's offset-sync and fencing producers add a suffix, and heartbeats have their own.
    const copying = (l: StatsLine): boolean => /^[^#]*->[^#]*#/.test(l.name ?? '') && !/-(offset-syncs|fence)#/.test(l.name ?? '');
    const producing = lines.filter((l) => l.type === 'producer' && copying(l) && (l.brokers ?? []).some((b) => (b.rttUs?.[0] ?? 0) > 0));
    const pick = (f: (b: NonNullable<StatsLine['brokers']>[number]) => number | undefined): number[] => producing.flatMap((l) => (l.brokers ?? []).map(f).filter((x): x is number => x !== undefined && x > 0));
    const batch = producing.flatMap((l) => (l.topics ?? []).map((t) => t.batchSizeAvg ?? 0).filter((x) => x > 0));
    const prefetched = lines.filter((l) => l.type === 'consumer').flatMap((l) => (l.topics ?? []).map((t) => t.fetchq ?? 0));
    rdkafka = {
      statsFile: o.statsFile,
      producerIntervals: producing.length,
      producerQueueLatencyUs: { p50: median(pick((b) => b.intLatencyUs?.[0])), p99: median(pick((b) => b.intLatencyUs?.[1])) },
      producerOutbufLatencyUs: { p50: median(pick((b) => b.outbufLatencyUs?.[0])), p99: median(pick((b) => b.outbufLatencyUs?.[1])) },
      producerRttUs: { p50: median(pick((b) => b.rttUs?.[0])), p99: median(pick((b) => b.rttUs?.[1])) },
      producerBatchBytes: median(batch),
      consumerPrefetchedRecordsMax: prefetched.length > 0 ? Math.max(...prefetched) : 0,
    };
  }
  return { profileFile: file, samples, self, inclusive, rdkafka };
}
