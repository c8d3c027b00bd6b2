/**
 * `npm run bench:compare`: our replicator side by side with Apache Kafka's MirrorMaker 2 and with
 * Kafka's own ceiling, on the same brokers in the same run (issue #7). Always its own runtime
 * (.regions/bench-compare, ports +13000, three regions, Kafka only). Prints the tables and writes
 * bench/results/compare-<timestamp>.json. See docs/BENCHMARKS.md, "Side by side with MirrorMaker 2".
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import type { Admin, KafkaClient } from '../../core/kafka.ts';
import { kafkaClient } from '../../core/kafka.ts';
import { createLogger } from '../../core/logger.ts';
import { parse as parseYaml } from 'yaml';
import { validateDeployment } from '../../config/load.ts';
import { withPortOffset, withStateDir } from '../../topology/runtime/deployment-variants.ts';
import { readState } from '../../topology/runtime/state-file.ts';
import { libDir } from '../../topology/runtime/fetch.ts';
import { PROJECT_ROOT } from '../../topology/runtime/paths.ts';
import { tcpOpen } from '../../topology/runtime/probes.ts';
import { splitHostPort } from '../../config/cross-checks.ts';
import { machineInfo } from '../support/machine.ts';
import { acquireRegions } from '../support/regions.ts';
import type { BenchRegions } from '../support/regions.ts';
import { sizeLabel } from '../replicator/report.ts';
import { runIsolation } from './isolation-repeat.ts';
import type { IsolationRepeat } from './isolation-repeat.ts';
import { MM2_NON_DEFAULTS } from './mm2.ts';
import { parseOptions, USAGE } from './options.ts';
import type { CompareOptions } from './options.ts';
import { bootstrap, runRepeat } from './repeat.ts';
import type { BenchClients, Setup } from './repeat.ts';
import type { ReplicatorKind } from './replicator-process.ts';
import { isolationTable, setupTable, verdicts, writeJson } from './report.ts';
import type { SetupResult } from './report.ts';

/** The live phases' rate when --latency-rate is auto but no throughput was measured (--skip throughput). */
const FALLBACK_RATE = 1_000;

function twoSignificant(x: number): number {
  if (!(x > 0)) return 0;
  const p = 10 ** (Math.floor(Math.log10(x)) - 1);
  return Math.floor(x / p) * p;
}

const SOURCE = 'us-east';
const TARGET = 'eu-west';

/** Runtimes this benchmark must never start, reuse or stop. */
const FOREIGN_STATE_DIRS = ['.regions', '.regions/test', '.regions/ci', '.regions/bench'].map((d) => resolve(PROJECT_ROOT, d));

export const METHOD = {
  flow: `${SOURCE} -> ${TARGET}, one broker per region (RF 1), every source topic 6 partitions; our replicator (replicator/main.ts) and MirrorMaker 2 (dedicated mode) each run as their own process, one after the other, never together`,
  records: 'value = exactly the record size (16-byte header: produce time, sequence, run tag; then random bytes, incompressible); no key; partition = sequence mod partitions; MB = 10^6 bytes of values',
  throughput: 'the replicator process is started with the backlog already in the source; the copy\'s read_committed end offsets are polled every 100 ms; rate = (records - end offsets at the first sample with any copy) / (time of the sample showing the final end offsets - time of that first sample), i.e. startup excluded; only counted when a read_committed consumer finds every record of the run on the target (distinct by sequence number)',
  ceiling: 'ProducerPerformance (kafka-tools) writes N records of the same size into a new 6-partition topic in the target, concurrently with ConsumerPerformance (read_committed) reading the N-record backlog from the source; ceiling = min(ProducerPerformance records/s, ConsumerPerformance fetch records/s); the producer uses a payload file of 20,000 distinct random lines of the record size (same size and incompressibility as our records)',
  latency: 'a child process produces records stamped with the wall clock to a topic of the replicator\'s own at the fixed --latency-rate (the same for both), after a warm-up; a read_committed consumer (fetch.wait.max.ms=10) on the target computes receive time - produce time per record; nearest-rank percentiles',
  recovery: 'records at --latency-rate into another topic of the replicator\'s own; after --recovery-before-seconds the replicator process is SIGKILLed and started again at once with the same configuration; production continues; a read_committed observer on the target counts each record\'s copies; resume = SIGKILL -> first record produced after the SIGKILL visible on the target; duplicates = extra copies; gaps = records never copied (after waiting up to --recovery-drain-seconds)',
  resources: 'user+system CPU seconds from /proc/<pid>/stat; peak RSS = max(VmHWM, VmRSS sampled every 0.5 s) from /proc/<pid>/status; the replicator process only (ours: node; MM2: its JVM)',
  isolation: 'three regions, a backlog in each, six flows; ours = one process per target region, MM2 = one dedicated process for all six flows; when both unaffected flows (us-east <-> eu-west) have copied 30% of their backlog, ap-southeast\'s broker is stopped (SIGTERM); their summed copy rate before (first copy -> stop) and after (stop done -> backlog copied) is compared, and the longest time without visible progress (end offsets polled every 200 ms) before the stop and after it began',
  order: 'repeat 1 of every setup, then repeat 2, ...; within a repeat, ours first in odd repeats, MM2 first in even ones; each repeat has its own topics and groups (run id), deleted afterwards',
} as const;

async function main(): Promise<number> {
  const opts = parseOptions(process.argv.slice(2));
  if (opts.help) {
    console.log(USAGE);
    return 0;
  }
  if (FOREIGN_STATE_DIRS.includes(resolve(PROJECT_ROOT, opts.stateDir))) throw new Error(`--state-dir ${opts.stateDir} belongs to another runtime; use one of this benchmark's own (default .regions/bench-compare)`);
  await checkPortsFree(opts);
  const log = createLogger({ name: 'bench-compare', level: process.env['GEOREPLICA_LOG_LEVEL'] ?? 'warn' });
  const startedAt = new Date();
  const regions = ['us-east', 'eu-west', 'ap-southeast'];
  const acquired = await acquireRegions({ regions, stateDir: opts.stateDir, portOffset: opts.portOffset, keep: opts.keepRegions, ownOnly: true, log });
  let released = false;
  const release = async (): Promise<void> => {
    if (released) return;
    released = true;
    await acquired.release();
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    console.error(`\n${signal}: stopping${opts.keepRegions ? '' : ' the brokers of this runtime'}`);
    void release().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    return await bench(opts, acquired, regions, startedAt);
  } finally {
    await release();
  }
}

/**
 * Refuses to start when another process listens on this runtime's ports (another runtime, a
 * stray server): brokers (and controllers) unless this runtime's own state lists running
 * servers, and the replicator admin ports our processes bind.
 */
async function checkPortsFree(opts: CompareOptions): Promise<void> {
  const base = parseYaml(readFileSync(join(PROJECT_ROOT, 'topology', 'regions.local.yaml'), 'utf8')) as Record<string, unknown>;
  const d = validateDeployment(withStateDir(withPortOffset(base, opts.portOffset), opts.stateDir), 'bench:compare deployment');
  const own = readState(resolve(PROJECT_ROOT, opts.stateDir));
  const ownRunning = own !== undefined && Object.keys(own.servers).length > 0;
  const busy: string[] = [];
  for (const [name, r] of Object.entries(d.regions)) {
    const ports: Array<[string, number]> = [];
    if (!ownRunning) for (const addr of r.kafka.bootstrap) {
      const [host, port] = splitHostPort(addr);
      ports.push([host, port], [host, port + 1]);
    }
    ports.push(['127.0.0.1', r.ports.replicator]);
    for (const [host, port] of ports) if (await tcpOpen(host, port)) busy.push(`${name} ${host}:${port}`);
  }
  if (busy.length > 0) throw new Error(`ports of ${opts.stateDir} (offset +${opts.portOffset}) are in use by another process: ${busy.join(', ')}; pick another --port-offset`);
}

function jarVersion(prefix: string): string {
  try {
    const jar = readdirSync(libDir('kafka')).find((f) => new RegExp(`^${prefix}-[\\d.]+\\.jar$`).test(f));
    return jar?.slice(prefix.length + 1, -'.jar'.length) ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

function gitState(): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: PROJECT_ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'replicator'], { cwd: PROJECT_ROOT, encoding: 'utf8' }).trim();
    return `${head}${dirty ? ' (replicator/ has uncommitted changes)' : ''}`;
  } catch {
    return 'unknown';
  }
}

async function bench(opts: CompareOptions, acquired: BenchRegions, regions: readonly string[], startedAt: Date): Promise<number> {
  const d = acquired.deployment;
  // The isolation phase stops a region on purpose; its clients' reconnect errors are expected. Failures surface as exceptions.
  const kafkaLog = createLogger({ name: 'bench-kafka', level: 'fatal' });
  const log = createLogger({ name: 'bench-compare', level: process.env['GEOREPLICA_LOG_LEVEL'] ?? 'warn' });
  const kafkas = new Map<string, KafkaClient>();
  const admins = new Map<string, Admin>();
  const clients: BenchClients = {
    kafka(region) {
      let k = kafkas.get(region);
      if (!k) kafkas.set(region, (k = kafkaClient({ bootstrap: bootstrap(d, region), clientId: `bench-compare-${region}`, log: kafkaLog })));
      return k;
    },
    admin(region) {
      const a = admins.get(region);
      if (!a) throw new Error(`no admin for ${region}`);
      return a;
    },
  };
  for (const region of regions) {
    const a = clients.kafka(region).admin();
    await a.connect();
    admins.set(region, a);
  }
  const loads: number[] = [loadavg()[0] ?? 0];
  const loadTimer = setInterval(() => loads.push(loadavg()[0] ?? 0), 10_000);
  loadTimer.unref();
  const machine = machineInfo(acquired.brokerPids);
  const versions = { kafkaBrokers: machine.kafka, connectMirror: jarVersion('connect-mirror'), kafkaTools: jarVersion('kafka-tools'), kafkaJavascript: machine.kafkaJavascript, librdkafka: machine.librdkafka, node: machine.node, jdk: machine.jdk, georeplica: gitState() };
  const stamp = startedAt.toISOString().replace(/\.\d+Z$/, 'Z').replace(/:/g, '-');
  const logDir = resolve(PROJECT_ROOT, opts.stateDir, 'runs', stamp);
  const command = `npm run bench:compare${opts.argv.length > 0 ? ` -- ${opts.argv.join(' ')}` : ''}`;
  console.log(`bench:compare: ${SOURCE} -> ${TARGET}, ${opts.partitions} partitions, ${opts.records} records per setup and repeat, ${opts.repeats} repeats; latency and recovery at ${opts.latencyRate ?? 'auto (a quarter of the slower replicator\'s throughput in the first repeat of each setup)'} records/s`);
  console.log(`machine: ${machine.cores} cores (${machine.cpuModel}), ${machine.memoryGiB} GiB, Linux ${machine.kernel}, Node ${machine.node}, JDK ${machine.jdk}, Kafka ${machine.kafka}, connect-mirror ${versions.connectMirror}, kafka-javascript ${machine.kafkaJavascript} (librdkafka ${machine.librdkafka}), load average ${machine.loadAverage1m}`);
  console.log(`regions: ${acquired.origin}; ${regions.map((r) => `${r} ${bootstrap(d, r).join(',')}`).join(', ')}; logs and configs in ${logDir}`);

  const setups: Setup[] = opts.modes.flatMap((mode) => opts.sizes.map((size) => ({ mode, size })));
  const results: SetupResult[] = setups.map((setup) => ({ setup, repeats: [], failures: [] }));
  // --latency-rate auto: fixed per setup once both replicators' throughput is known.
  const autoRates = new Map<SetupResult, number>();
  const rateFor = (result: SetupResult) => (throughputs: ReadonlyArray<number | undefined>): number => {
    if (opts.latencyRate !== undefined) return opts.latencyRate;
    const fixed = autoRates.get(result);
    if (fixed !== undefined) return fixed;
    const measured = throughputs.filter((x): x is number => x !== undefined && Number.isFinite(x));
    if (measured.length === 0) return FALLBACK_RATE;
    const rate = Math.min(5_000, Math.max(100, twoSignificant(Math.min(...measured) / 4)));
    if (measured.length === throughputs.length) autoRates.set(result, rate);
    return rate;
  };
  const isolation: IsolationRepeat[] = [];
  const isolationFailures: Array<{ repeat: number; kind: ReplicatorKind; error: string }> = [];
  for (let repeat = 1; repeat <= opts.repeats; repeat++) {
    for (const result of results) {
      const label = `[${result.setup.mode} ${sizeLabel(result.setup.size)} #${repeat}]`;
      const t0 = Date.now();
      try {
        const r = await runRepeat({ deployment: d, clients, opts, source: SOURCE, target: TARGET, setup: result.setup, repeat, logDir, log, latencyRate: rateFor(result), progress: (line) => console.log(`${label} ${line}`) });
        result.repeats.push(r);
        console.log(`${label} done in ${((Date.now() - t0) / 1000).toFixed(0)} s (load average ${r.loadAverage1m} → ${r.loadAverage1mAtEnd})`);
      } catch (err) {
        result.failures.push({ repeat, error: (err as Error).message });
        console.log(`${label} FAILED: ${(err as Error).message}`);
      }
    }
    if (!opts.skip.has('isolation')) {
      const kinds: ReplicatorKind[] = (['ours', 'mm2'] as const).filter((k) => !opts.skip.has(k));
      for (const kind of repeat % 2 === 1 ? kinds : [...kinds].reverse()) {
        const label = `[isolation ${kind} #${repeat}]`;
        try {
          const r = await runIsolation({ deployment: d, runtime: acquired.runtime, clients, opts, kind, repeat, logDir, log, progress: (line) => console.log(`${label} ${line}`) });
          isolation.push(r);
          console.log(`${label} unaffected flows: ${Math.round(r.beforePerSec)} rec/s before, ${Math.round(r.afterPerSec)} rec/s after ${r.stoppedRegion} stopped (${(r.keptShare * 100).toFixed(0)}%); longest pause ${(Math.max(...r.unaffected.map((f) => f.longestPauseAfterStopMs)) / 1000).toFixed(1)} s after the stop began, ${(Math.max(...r.unaffected.map((f) => f.longestPauseBeforeStopMs)) / 1000).toFixed(1)} s before it`);
        } catch (err) {
          isolationFailures.push({ repeat, kind, error: (err as Error).message });
          console.log(`${label} FAILED: ${(err as Error).message}`);
        }
      }
    }
  }
  clearInterval(loadTimer);
  loads.push(loadavg()[0] ?? 0);
  for (const a of admins.values()) await a.disconnect().catch(() => undefined);

  const finishedAt = new Date();
  const outStamp = finishedAt.toISOString().replace(/\.\d+Z$/, 'Z').replace(/:/g, '-');
  const out = resolve(PROJECT_ROOT, opts.out ?? join('bench', 'results', `compare-${outStamp}.json`));
  const r2 = (x: number): number => Math.round(x * 100) / 100;
  writeJson(
    out,
    {
      startedAt,
      finishedAt,
      command,
      machine,
      versions,
      loadAverage: { atStart: r2(loads[0] ?? 0), atEnd: r2(loads[loads.length - 1] ?? 0), min: r2(Math.min(...loads)), max: r2(Math.max(...loads)) },
      regions: { origin: acquired.origin, bootstrap: Object.fromEntries(regions.map((r) => [r, bootstrap(d, r).join(',')])) },
      options: { ...opts, skip: [...opts.skip], help: undefined, argv: undefined, out: undefined, logDir, isolationFailures, mm2NonDefaults: MM2_NON_DEFAULTS },
      method: METHOD,
    },
    results,
    isolation,
  );
  console.log('');
  for (const r of results) console.log(`${setupTable(r)}\n`);
  if (isolation.length > 0) console.log(`**isolation** (${opts.isolationMode}, ${sizeLabel(Math.max(...opts.sizes))}, ${opts.isolationRecords} records per region)\n\n${isolationTable(isolation)}\n`);
  for (const v of verdicts(results)) console.log(v);
  console.log(`\nload average (1 min) during the run: ${r2(Math.min(...loads))}–${r2(Math.max(...loads))}`);
  console.log(`wrote ${out} (${((finishedAt.getTime() - startedAt.getTime()) / 60_000).toFixed(1)} min)`);
  return results.some((r) => r.failures.length > 0) || isolationFailures.length > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`bench:compare: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
