/** Command-line flags of `npm run bench:compare`. */
import { parseArgs } from 'node:util';
import type { CopyMode } from '../../replicator/flow-copier.ts';

export const PHASES = ['ceiling', 'ours', 'mm2', 'throughput', 'latency', 'recovery', 'isolation'] as const;
export type Phase = (typeof PHASES)[number];

export const USAGE = `Usage: npm run bench:compare -- [options]

Our replicator (replicator/main.ts, a process) side by side with Apache Kafka's MirrorMaker 2
(dedicated mode, one JVM) and Kafka's own ceiling (ProducerPerformance + ConsumerPerformance),
on the same brokers in the same run: throughput copying a backlog, latency at a fixed rate,
recovery after SIGKILL, CPU and peak RSS, and failure isolation across three regions.

  --records N                 backlog records per setup and repeat (default 2000000)
  --sizes 100,1024            record value sizes in bytes (default 100,1024)
  --modes at-least-once,exactly-once
                              modes, both replicators in each (default both, in this order)
  --repeats N                 repeats; medians with min-max are reported (default 3)
  --partitions N              partitions of every source topic (default 6)
  --latency-rate N|auto       records/s of the latency and recovery phases, the same for both and every
                              setup (default 1000); auto: a quarter of the slower replicator's throughput
                              in the setup's first repeat (2 significant digits, 100..5000), then fixed
  --latency-seconds S         measured seconds of the latency phase (default 15)
  --latency-warmup-seconds S  unmeasured seconds before it (default 3)
  --recovery-before-seconds S producing before the SIGKILL (default 8)
  --recovery-after-seconds S  producing after it, restart included (default 20)
  --recovery-drain-seconds S  longest wait afterwards for every record to arrive (default 360)
  --isolation-records N       backlog per region of the isolation phase (default 300000)
  --isolation-mode M          its mode (default exactly-once); its record size is the largest of --sizes
  --skip P,P                  leave phases out: ${PHASES.join(', ')}
  --mm2-tasks N               MirrorMaker 2 tasks.max (default 1, MM2's own default)
  --mm2-heap-mb N             MirrorMaker 2 heap (default 512)
  --ceiling-producer K=V      a ProducerPerformance setting (repeatable; default: the copier's settings,
                              acks=all, idempotence, linger.ms=5, batch.size=1000000, lz4)
  --profile-ours              run our replicator with --cpu-prof and librdkafka statistics
                              (bench/compare/rdkafka-stats.ts) during its throughput phase
  --out FILE                  result JSON (default bench/results/compare-<timestamp>.json)
  --state-dir DIR             the benchmark's own runtime (default .regions/bench-compare)
  --port-offset N             its port shift against topology/regions.local.yaml (default 13000)
  --keep-regions              leave its brokers running at the end
`;

export interface CompareOptions {
  records: number;
  sizes: number[];
  modes: CopyMode[];
  repeats: number;
  partitions: number;
  /** undefined: auto. */
  latencyRate: number | undefined;
  latencySeconds: number;
  latencyWarmupSeconds: number;
  recoveryBeforeSeconds: number;
  recoveryAfterSeconds: number;
  recoveryDrainSeconds: number;
  isolationRecords: number;
  isolationMode: CopyMode;
  skip: Set<Phase>;
  mm2Tasks: number;
  mm2HeapMb: number;
  ceilingProducer: Record<string, string | number | boolean>;
  profileOurs: boolean;
  out: string | undefined;
  stateDir: string;
  portOffset: number;
  keepRegions: boolean;
  help: boolean;
  argv: string[];
}

function int(name: string, value: string | undefined, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name}: expected an integer >= ${min}, got "${value}"`);
  return n;
}

function size(value: string): number {
  const m = /^(\d+)\s*(b|k|kb|kib)?$/i.exec(value.trim());
  if (!m) throw new Error(`--sizes: expected sizes in bytes like 1024 or 1KiB, got "${value}"`);
  return Number(m[1]) * (m[2] && m[2].toLowerCase() !== 'b' ? 1024 : 1);
}

function mode(name: string, value: string): CopyMode {
  if (value !== 'exactly-once' && value !== 'at-least-once') throw new Error(`--${name}: expected exactly-once or at-least-once, got "${value}"`);
  return value;
}

/** "key=value" → a Java client setting (numbers and booleans as such, for the JSON). */
function setting(text: string): [string, string | number | boolean] {
  const eq = text.indexOf('=');
  if (eq <= 0) throw new Error(`--ceiling-producer: expected key=value, got "${text}"`);
  const raw = text.slice(eq + 1).trim();
  return [text.slice(0, eq).trim(), raw === 'true' ? true : raw === 'false' ? false : raw !== '' && Number.isFinite(Number(raw)) ? Number(raw) : raw];
}

/** The copier's producer settings (replicator/flow-copier.ts) in Java client terms. */
export const DEFAULT_CEILING_PRODUCER: Readonly<Record<string, string | number | boolean>> = { acks: 'all', 'enable.idempotence': true, 'linger.ms': 5, 'batch.size': 1_000_000, 'compression.type': 'lz4' };

export function parseOptions(argv: string[]): CompareOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      records: { type: 'string' },
      sizes: { type: 'string' },
      modes: { type: 'string' },
      repeats: { type: 'string' },
      partitions: { type: 'string' },
      'latency-rate': { type: 'string' },
      'latency-seconds': { type: 'string' },
      'latency-warmup-seconds': { type: 'string' },
      'recovery-before-seconds': { type: 'string' },
      'recovery-after-seconds': { type: 'string' },
      'recovery-drain-seconds': { type: 'string' },
      'isolation-records': { type: 'string' },
      'isolation-mode': { type: 'string' },
      skip: { type: 'string' },
      'mm2-tasks': { type: 'string' },
      'mm2-heap-mb': { type: 'string' },
      'ceiling-producer': { type: 'string', multiple: true },
      'profile-ours': { type: 'boolean' },
      out: { type: 'string' },
      'state-dir': { type: 'string' },
      'port-offset': { type: 'string' },
      'keep-regions': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const modes = (values.modes ?? 'at-least-once,exactly-once').split(',').map((m) => mode('modes', m.trim()));
  const sizes = (values.sizes ?? '100,1024').split(',').map(size);
  for (const s of sizes) if (s < 16) throw new Error(`--sizes: a record needs at least 16 bytes (produce time, sequence, run tag), got ${s}`);
  const skip = new Set<Phase>();
  for (const p of (values.skip ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '')) {
    if (!(PHASES as readonly string[]).includes(p)) throw new Error(`--skip: expected some of ${PHASES.join(', ')}, got "${p}"`);
    skip.add(p as Phase);
  }
  return {
    records: int('records', values.records, 2_000_000, 1_000),
    sizes,
    modes,
    repeats: int('repeats', values.repeats, 3, 1),
    partitions: int('partitions', values.partitions, 6, 1),
    latencyRate: values['latency-rate'] === 'auto' ? undefined : int('latency-rate', values['latency-rate'], 1_000, 1),
    latencySeconds: int('latency-seconds', values['latency-seconds'], 15, 1),
    latencyWarmupSeconds: int('latency-warmup-seconds', values['latency-warmup-seconds'], 3, 0),
    recoveryBeforeSeconds: int('recovery-before-seconds', values['recovery-before-seconds'], 8, 1),
    recoveryAfterSeconds: int('recovery-after-seconds', values['recovery-after-seconds'], 20, 1),
    recoveryDrainSeconds: int('recovery-drain-seconds', values['recovery-drain-seconds'], 360, 10),
    isolationRecords: int('isolation-records', values['isolation-records'], 300_000, 1_000),
    isolationMode: mode('isolation-mode', values['isolation-mode'] ?? 'exactly-once'),
    skip,
    mm2Tasks: int('mm2-tasks', values['mm2-tasks'], 1, 1),
    mm2HeapMb: int('mm2-heap-mb', values['mm2-heap-mb'], 512, 64),
    ceilingProducer: { ...DEFAULT_CEILING_PRODUCER, ...Object.fromEntries((values['ceiling-producer'] ?? []).map(setting)) },
    profileOurs: values['profile-ours'] ?? false,
    out: values.out,
    stateDir: values['state-dir'] ?? '.regions/bench-compare',
    portOffset: int('port-offset', values['port-offset'], 13_000, 0),
    keepRegions: values['keep-regions'] ?? false,
    help: values.help ?? false,
    argv,
  };
}
