/** Command-line flags of `npm run bench:replicator`. */
import { parseArgs } from 'node:util';
import type { CopyMode } from '../../replicator/flow-copier.ts';
import { parseSetting } from './instrument.ts';

export const USAGE = `Usage: npm run bench:replicator -- [options]

Copies a pre-filled backlog us-east -> eu-west with the replicator (in this process), measures
plain clients as the ceiling in the same run, then replication latency at half the measured rate.

  --records N                 backlog records per setup and repeat (default 200000)
  --sizes 1024,100            record value sizes in bytes (default 1024,100)
  --modes exactly-once,at-least-once
                              replication modes (default both)
  --repeats N                 repeats per setup; the report gives median and min-max (default 3)
  --partitions N              partitions of the source topic (default 6)
  --max-batch-records N       replication.maxBatchRecords (default: the deployment's, 10000)
  --min-copy-interval-ms MS   replication.minCopyIntervalMs (default: the deployment's)
  --latency-seconds S         measured seconds of the latency phase (default 15)
  --latency-warmup-seconds S  unmeasured seconds before it (default 3)
  --latency-rate R            records/s of the latency phase instead of half the measured rate
  --source R / --target R     regions (default us-east / eu-west)
  --out FILE                  result JSON (default bench/results/replicator-<timestamp>.json)
  --state-dir DIR             where brokers the benchmark starts itself keep their state (default .regions/bench)
  --port-offset N             their port shift against topology/regions.local.yaml (default 5000)
  --keep-regions              leave brokers this run started running (the next run reuses them)

Measuring the replicator (bench/replicator/instrument.ts, nothing in replicator/ is edited):
  --ceiling-headers           the ceiling's producer adds the replicator's 5 provenance headers
                              (isolates their cost; by default it writes the source's records as they are)
  --trace                     time every copy (transaction) and the producer calls in it
  --replicator-consumer K=V   override a setting of the replicator's flow consumer (repeatable),
                              e.g. fetch.wait.max.ms=10
  --replicator-producer K=V   override a setting of its copier producers (repeatable), e.g. linger.ms=1
  --ab                        run every setup twice per repeat, as shipped and with the overrides,
                              alternating which goes first, so both see the same machine
`;

export interface BenchOptions {
  records: number;
  sizes: number[];
  modes: CopyMode[];
  repeats: number;
  partitions: number;
  maxBatchRecords: number | undefined;
  minCopyIntervalMs: number | undefined;
  latencySeconds: number;
  latencyWarmupSeconds: number;
  /** Fixed records/s for the latency phase; undefined: half the rate measured in the same repeat. */
  latencyRate: number | undefined;
  source: string;
  target: string;
  out: string | undefined;
  stateDir: string;
  portOffset: number;
  keepRegions: boolean;
  trace: boolean;
  ceilingHeaders: boolean;
  ab: boolean;
  replicatorConsumer: Record<string, string | number | boolean>;
  replicatorProducer: Record<string, string | number | boolean>;
  help: boolean;
  /** The flags as given, for the report's command line. */
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

export function parseOptions(argv: string[]): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      records: { type: 'string' },
      sizes: { type: 'string' },
      modes: { type: 'string' },
      repeats: { type: 'string' },
      partitions: { type: 'string' },
      'max-batch-records': { type: 'string' },
      'min-copy-interval-ms': { type: 'string' },
      'latency-seconds': { type: 'string' },
      'latency-warmup-seconds': { type: 'string' },
      'latency-rate': { type: 'string' },
      source: { type: 'string' },
      target: { type: 'string' },
      out: { type: 'string' },
      'state-dir': { type: 'string' },
      'port-offset': { type: 'string' },
      'keep-regions': { type: 'boolean' },
      trace: { type: 'boolean' },
      'ceiling-headers': { type: 'boolean' },
      ab: { type: 'boolean' },
      'replicator-consumer': { type: 'string', multiple: true },
      'replicator-producer': { type: 'string', multiple: true },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const modes = (values.modes ?? 'exactly-once,at-least-once').split(',').map((m) => m.trim());
  for (const m of modes) if (m !== 'exactly-once' && m !== 'at-least-once') throw new Error(`--modes: expected exactly-once and/or at-least-once, got "${m}"`);
  const sizes = (values.sizes ?? '1024,100').split(',').map(size);
  for (const s of sizes) if (s < 16) throw new Error(`--sizes: a record needs at least 16 bytes (produce time, sequence, run tag), got ${s}`);
  const maxBatch = values['max-batch-records'];
  if (values.ab && !values['replicator-consumer'] && !values['replicator-producer']) throw new Error('--ab compares the shipped replicator with a tuned one: give --replicator-consumer and/or --replicator-producer');
  return {
    records: int('records', values.records, 200_000, 1_000),
    sizes,
    modes: modes as CopyMode[],
    repeats: int('repeats', values.repeats, 3, 1),
    partitions: int('partitions', values.partitions, 6, 1),
    maxBatchRecords: maxBatch === undefined ? undefined : int('max-batch-records', maxBatch, 0, 1),
    minCopyIntervalMs: values['min-copy-interval-ms'] === undefined ? undefined : int('min-copy-interval-ms', values['min-copy-interval-ms'], 0, 0),
    latencySeconds: int('latency-seconds', values['latency-seconds'], 15, 1),
    latencyWarmupSeconds: int('latency-warmup-seconds', values['latency-warmup-seconds'], 3, 0),
    latencyRate: values['latency-rate'] === undefined ? undefined : int('latency-rate', values['latency-rate'], 0, 1),
    source: values.source ?? 'us-east',
    target: values.target ?? 'eu-west',
    out: values.out,
    stateDir: values['state-dir'] ?? '.regions/bench',
    portOffset: int('port-offset', values['port-offset'], 5_000, 0),
    keepRegions: values['keep-regions'] ?? false,
    trace: values.trace ?? false,
    ceilingHeaders: values['ceiling-headers'] ?? false,
    ab: values.ab ?? false,
    replicatorConsumer: Object.fromEntries((values['replicator-consumer'] ?? []).map(parseSetting)),
    replicatorProducer: Object.fromEntries((values['replicator-producer'] ?? []).map(parseSetting)),
    help: values.help ?? false,
    argv,
  };
}
