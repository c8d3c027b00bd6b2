/** Command-line flags of `npm run bench:freshness`. */
import { parseArgs } from 'node:util';
import type { Deployment } from '../../config/schema.ts';

export const USAGE = `Usage: npm run bench:freshness -- [options]

Writes documents at fixed rates through the ingest API of one region and measures, in every
region, how long until a search finds each one (replicators, indexers and the ingest API each
in a process of their own, on names of their own); the indexers' throughput, their capacity on a
backlog, and the OpenSearch bulk ceiling of the same documents in the same run.

  --rates 500,2000             documents per second, one phase each per repeat (default 500,2000)
  --seconds S                  measured seconds per phase (default 30)
  --warmup-seconds S           unmeasured seconds before them (default 5)
  --repeats N                  repeats; the report gives median and min-max (default 3)
  --jvm-warmup-seconds S       before the first repeat, an unmeasured run at the first rate for S seconds, so
                               the JVMs are compiled when the measuring starts (default 300 when this run
                               started any server, 0 when it reused running ones)
  --sample-every N             the observer looks for every Nth document (default 4, i.e. 25 %)
  --poll-ms MS                 one search per region this often (default 100)
  --doc-bytes N                bytes of each document's JSON body (default 1024)
  --drain-timeout-seconds S    after the writes, how long to keep looking for missing ones (default 60)
  --max-in-flight N            the writer's cap on requests awaiting an answer (default 2000)
  --write-region R             where the writes go (default us-east)
  --kafka-probe                also time when each event becomes readable in Kafka (one more consumer per
                               region; off by default: the indexer's own intake time is the same stage)
  --replication-mode M         exactly-once (the default) or at-least-once: the replicators' mode for this run
  --min-copy-interval-ms MS    replication.minCopyIntervalMs for this run (default: the deployment's)
  --no-capacity                skip the indexer capacity measurement (backlog catch-up)
  --no-ceiling                 skip the OpenSearch bulk ceiling
  --ceiling-max-docs N         documents per region in the ceiling (default 100000)
  --ceiling-min-docs N         at least this many: filled up with more of the same documents when the
                               run wrote fewer (default 20000)
  --out FILE                   result JSON (default bench/results/freshness-<timestamp>.json)
  --state-dir DIR              the benchmark runtime (default .regions/bench)
  --port-offset N              its port shift against topology/regions.local.yaml (default 5000)
  --keep-regions               leave the servers this run started running (the next run reuses them)
  --clean-leftovers            only delete what interrupted runs left in the bench runtime (fresh-* and
                               freshrep-* topics, groups and indices), then exit
`;

export interface FreshnessOptions {
  rates: number[];
  seconds: number;
  warmupSeconds: number;
  repeats: number;
  /** undefined: decided by whether this run started the servers. */
  jvmWarmupSeconds: number | undefined;
  sampleEvery: number;
  pollMs: number;
  docBytes: number;
  drainTimeoutSeconds: number;
  maxInFlight: number;
  writeRegion: string;
  capacity: boolean;
  ceiling: boolean;
  kafkaProbe: boolean;
  replicationMode: Deployment['replication']['mode'];
  /** replication.minCopyIntervalMs for the run; undefined: the deployment's. */
  minCopyIntervalMs: number | undefined;
  ceilingMaxDocs: number;
  ceilingMinDocs: number;
  out: string | undefined;
  stateDir: string;
  portOffset: number;
  keepRegions: boolean;
  cleanLeftovers: boolean;
  help: boolean;
  argv: string[];
}

function int(name: string, value: string | undefined, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name}: expected an integer >= ${min}, got "${value}"`);
  return n;
}

export function parseOptions(argv: string[]): FreshnessOptions {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      rates: { type: 'string' },
      seconds: { type: 'string' },
      'warmup-seconds': { type: 'string' },
      repeats: { type: 'string' },
      'jvm-warmup-seconds': { type: 'string' },
      'sample-every': { type: 'string' },
      'poll-ms': { type: 'string' },
      'doc-bytes': { type: 'string' },
      'drain-timeout-seconds': { type: 'string' },
      'max-in-flight': { type: 'string' },
      'write-region': { type: 'string' },
      'no-capacity': { type: 'boolean' },
      'kafka-probe': { type: 'boolean' },
      'replication-mode': { type: 'string' },
      'min-copy-interval-ms': { type: 'string' },
      'no-ceiling': { type: 'boolean' },
      'ceiling-max-docs': { type: 'string' },
      'ceiling-min-docs': { type: 'string' },
      out: { type: 'string' },
      'state-dir': { type: 'string' },
      'port-offset': { type: 'string' },
      'keep-regions': { type: 'boolean' },
      'clean-leftovers': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const mode = values['replication-mode'] ?? 'exactly-once';
  if (mode !== 'exactly-once' && mode !== 'at-least-once') throw new Error(`--replication-mode: expected exactly-once or at-least-once, got "${mode}"`);
  const rates = (values.rates ?? '500,2000').split(',').map((r) => int('rates', r.trim(), 0, 1));
  return {
    rates,
    seconds: int('seconds', values.seconds, 30, 1),
    warmupSeconds: int('warmup-seconds', values['warmup-seconds'], 5, 0),
    repeats: int('repeats', values.repeats, 3, 1),
    jvmWarmupSeconds: values['jvm-warmup-seconds'] === undefined ? undefined : int('jvm-warmup-seconds', values['jvm-warmup-seconds'], 0, 0),
    sampleEvery: int('sample-every', values['sample-every'], 4, 1),
    pollMs: int('poll-ms', values['poll-ms'], 100, 10),
    docBytes: int('doc-bytes', values['doc-bytes'], 1024, 200),
    drainTimeoutSeconds: int('drain-timeout-seconds', values['drain-timeout-seconds'], 60, 1),
    maxInFlight: int('max-in-flight', values['max-in-flight'], 2000, 1),
    writeRegion: values['write-region'] ?? 'us-east',
    capacity: values['no-capacity'] !== true,
    ceiling: values['no-ceiling'] !== true,
    kafkaProbe: values['kafka-probe'] === true,
    replicationMode: mode,
    minCopyIntervalMs: values['min-copy-interval-ms'] === undefined ? undefined : int('min-copy-interval-ms', values['min-copy-interval-ms'], 0, 0),
    ceilingMaxDocs: int('ceiling-max-docs', values['ceiling-max-docs'], 100_000, 1),
    ceilingMinDocs: int('ceiling-min-docs', values['ceiling-min-docs'], 20_000, 0),
    out: values.out,
    stateDir: values['state-dir'] ?? '.regions/bench',
    portOffset: int('port-offset', values['port-offset'], 5000, 0),
    keepRegions: values['keep-regions'] === true,
    cleanLeftovers: values['clean-leftovers'] === true,
    help: values.help === true,
    argv,
  };
}
