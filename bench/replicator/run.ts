/**
 * `npm run bench:replicator`: the replicator's throughput against the ceiling of plain clients,
 * and its replication latency at half that throughput, for one flow (us-east → eu-west) per
 * mode × record size. Reuses a running `georeplica up`, else starts its own brokers (see
 * bench/support/regions.ts). Prints a table and writes bench/results/replicator-<timestamp>.json.
 */
import { join, resolve } from 'node:path';
import { loadavg } from 'node:os';
import type { Admin, KafkaClient } from '../../core/kafka.ts';
import { kafkaClient } from '../../core/kafka.ts';
import { createLogger } from '../../core/logger.ts';
import { PROJECT_ROOT } from '../../topology/runtime/paths.ts';
import { machineInfo } from '../support/machine.ts';
import { PRODUCT_CADENCE } from '../support/product-replication.ts';
import { acquireRegions } from '../support/regions.ts';
import type { BenchRegions } from '../support/regions.ts';
import { ensureServiceEnv } from '../support/service-env-exec.ts';
import { parseOptions, USAGE } from './options.ts';
import { runRepeat } from './repeat.ts';
import type { BenchClients, RepeatOptions, Setup } from './repeat.ts';
import { markdownTable, METHOD, sizeLabel, verdicts, writeJson } from './report.ts';
import type { SetupResult } from './report.ts';

const POLL_MS = 100;

/** State directories of runtimes this benchmark must never start, reuse as its own, or stop. */
const FOREIGN_STATE_DIRS = ['.regions', '.regions/test', '.regions/ci'].map((d) => resolve(PROJECT_ROOT, d));

async function main(): Promise<number> {
  // The replicator runs in this process: with the environment its service gets (UV_THREADPOOL_SIZE).
  ensureServiceEnv();
  const opts = parseOptions(process.argv.slice(2));
  if (opts.help) {
    console.log(USAGE);
    return 0;
  }
  if (FOREIGN_STATE_DIRS.includes(resolve(PROJECT_ROOT, opts.stateDir))) throw new Error(`--state-dir ${opts.stateDir} belongs to another runtime; use a directory of the benchmark's own (default .regions/bench)`);
  const log = createLogger({ name: 'bench', level: process.env['GEOREPLICA_LOG_LEVEL'] ?? 'warn' });
  const startedAt = new Date();
  const regions = await acquireRegions({ regions: [opts.source, opts.target], stateDir: opts.stateDir, portOffset: opts.portOffset, keep: opts.keepRegions, log });
  let released = false;
  const release = async (): Promise<void> => {
    if (released) return;
    released = true;
    await regions.release();
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    console.error(`\n${signal}: stopping${regions.owned && !opts.keepRegions ? ' the brokers this run started' : ''}`);
    void release().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    return await bench(opts, regions, startedAt);
  } finally {
    await release();
  }
}

async function bench(opts: ReturnType<typeof parseOptions>, regions: BenchRegions, startedAt: Date): Promise<number> {
  const d = regions.deployment;
  // librdkafka narrates every reconnect; the benchmark needs its errors only.
  const kafkaLog = createLogger({ name: 'bench-kafka', level: 'error' });
  const replicatorLog = createLogger({ name: 'bench-replicator', level: process.env['GEOREPLICA_LOG_LEVEL'] ?? 'warn' });
  const bootstrap = (region: string): readonly string[] => {
    const r = d.regions[region];
    if (!r) throw new Error(`unknown region ${region}; the deployment has ${Object.keys(d.regions).join(', ')}`);
    return r.kafka.bootstrap;
  };
  const kafkas = new Map<string, KafkaClient>();
  const admins = new Map<string, Admin>();
  const clients: BenchClients = {
    kafka(region) {
      let k = kafkas.get(region);
      if (!k) kafkas.set(region, (k = kafkaClient({ bootstrap: bootstrap(region), clientId: `bench-${region}`, log: kafkaLog })));
      return k;
    },
    admin(region) {
      const a = admins.get(region);
      if (!a) throw new Error(`no admin for ${region}`);
      return a;
    },
  };
  for (const region of [opts.source, opts.target]) {
    const a = clients.kafka(region).admin();
    await a.connect();
    admins.set(region, a);
  }
  const machine = machineInfo(regions.brokerPids);
  const maxBatchRecords = opts.maxBatchRecords ?? d.replication.maxBatchRecords;
  const minCopyIntervalMs = opts.minCopyIntervalMs ?? PRODUCT_CADENCE.minCopyIntervalMs;
  const repeatOptions: RepeatOptions = {
    source: opts.source,
    target: opts.target,
    records: opts.records,
    partitions: opts.partitions,
    maxBatchRecords,
    minCopyIntervalMs,
    latencyWarmupSeconds: opts.latencyWarmupSeconds,
    latencyRate: opts.latencyRate,
    latencySeconds: opts.latencySeconds,
    stallTimeoutSeconds: 120,
    pollMs: POLL_MS,
    trace: opts.trace,
    ceilingHeaders: opts.ceilingHeaders,
    overrides: { consumer: opts.replicatorConsumer, producer: opts.replicatorProducer },
  };
  const command = `npm run bench:replicator${opts.argv.length > 0 ? ` -- ${opts.argv.join(' ')}` : ''}`;
  console.log(`replicator benchmark: ${opts.source} -> ${opts.target}, ${opts.partitions} partitions, ${opts.records} records per setup and repeat, ${opts.repeats} repeats`);
  console.log(`machine: ${machine.cores} cores (${machine.cpuModel}), ${machine.memoryGiB} GiB, Linux ${machine.kernel}, Node ${machine.node}, JDK ${machine.jdk}, Kafka ${machine.kafka}, kafka-javascript ${machine.kafkaJavascript} (librdkafka ${machine.librdkafka}), load average ${machine.loadAverage1m}`);
  const env = ['NODE_OPTIONS', 'UV_THREADPOOL_SIZE'].filter((k) => process.env[k] !== undefined).map((k) => `${k}=${process.env[k]}`);
  if (env.length > 0) console.log(`environment: ${env.join(' ')}`);
  console.log(`regions: ${regions.origin}; ${opts.source} ${bootstrap(opts.source).join(',')}, ${opts.target} ${bootstrap(opts.target).join(',')}`);
  console.log(`replication.maxBatchRecords ${maxBatchRecords}, minCopyIntervalMs ${minCopyIntervalMs}; latency phase ${opts.latencyWarmupSeconds} s warm-up + ${opts.latencySeconds} s measured`);
  const overrides: string[] = [...Object.entries(opts.replicatorConsumer).map(([k, v]) => `consumer ${k}=${v}`), ...Object.entries(opts.replicatorProducer).map(([k, v]) => `producer ${k}=${v}`)];
  if (opts.ceilingHeaders) console.log('ceiling producer adds the replicator\'s provenance headers (--ceiling-headers)');
  if (overrides.length > 0) console.log(`replicator ${opts.ab ? 'in the "tuned" variant' : 'in this run'} differs from the shipped one: ${overrides.join(', ')}`);

  const setups: Setup[] = opts.modes.flatMap((mode) => opts.sizes.flatMap((size): Setup[] => (opts.ab ? [{ mode, size, variant: 'shipped' }, { mode, size, variant: 'tuned' }] : [{ mode, size }])));
  const results: SetupResult[] = setups.map((setup) => ({ setup, repeats: [], failures: [] }));
  for (let repeat = 1; repeat <= opts.repeats; repeat++) {
    // With --ab, every other repeat runs the tuned variant of a setup before the shipped one.
    const order = opts.ab && repeat % 2 === 0 ? results.map((_, i) => results[i % 2 === 0 ? i + 1 : i - 1] as SetupResult) : results;
    for (const result of order) {
      const label = `[${result.setup.mode} ${sizeLabel(result.setup.size)}${result.setup.variant ? ` ${result.setup.variant}` : ''} #${repeat}]`;
      const t0 = Date.now();
      try {
        const r = await runRepeat({ deployment: d, clients, setup: result.setup, options: repeatOptions, repeat, log: replicatorLog, progress: (line) => console.log(`${label} ${line}`) });
        result.repeats.push(r);
        console.log(`${label} done in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
      } catch (err) {
        const error = (err as Error).message;
        result.failures.push({ repeat, error });
        console.log(`${label} FAILED: ${error}`);
      }
    }
  }
  for (const a of admins.values()) await a.disconnect().catch(() => undefined);

  const finishedAt = new Date();
  const stamp = finishedAt.toISOString().replace(/\.\d+Z$/, 'Z').replace(/:/g, '-');
  const out = resolve(PROJECT_ROOT, opts.out ?? join('bench', 'results', `replicator-${stamp}.json`));
  writeJson(
    out,
    {
      startedAt,
      finishedAt,
      command,
      machine,
      loadAverage1mAtEnd: Math.round((loadavg()[0] ?? 0) * 100) / 100,
      regions: { origin: regions.origin, source: opts.source, target: opts.target, sourceBootstrap: bootstrap(opts.source).join(','), targetBootstrap: bootstrap(opts.target).join(',') },
      options: {
        records: opts.records,
        sizes: opts.sizes,
        modes: opts.modes,
        repeats: opts.repeats,
        partitions: opts.partitions,
        maxBatchRecords,
        minCopyIntervalMs,
        latencySeconds: opts.latencySeconds,
        latencyWarmupSeconds: opts.latencyWarmupSeconds,
        pollMs: POLL_MS,
        trace: opts.trace,
        ceilingHeaders: opts.ceilingHeaders,
        ab: opts.ab,
        replicatorConsumerOverrides: opts.replicatorConsumer,
        replicatorProducerOverrides: opts.replicatorProducer,
      },
    },
    results,
  );
  console.log('');
  console.log(`ceiling = min(plain producer rate into ${opts.target}, plain consumer rate from ${opts.source}), both running concurrently; ratio = replicator / ceiling. Median (min–max) of the repeats.`);
  console.log(markdownTable(results));
  console.log('');
  for (const v of verdicts(results)) console.log(v);
  console.log(`\nmethod: ${METHOD.throughput}`);
  console.log(`wrote ${out} (${((finishedAt.getTime() - startedAt.getTime()) / 60_000).toFixed(1)} min)`);
  return results.some((r) => r.failures.length > 0) ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`bench:replicator: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
