/**
 * `npm run bench:freshness`: time from a write's 202 until a search finds the document, in the
 * writing region and in every other, at fixed write rates; the indexers' throughput and capacity
 * against the OpenSearch bulk ceiling of the same run. Runs on the benchmark runtime only
 * (`.regions/bench`, ports +5000; bench/support/search-regions.ts). Prints the tables and writes
 * bench/results/freshness-<timestamp>.json. Method: report.ts METHOD, docs/BENCHMARKS.md.
 */
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { Admin } from '../../core/kafka.ts';
import { kafkaClient } from '../../core/kafka.ts';
import { createLogger } from '../../core/logger.ts';
import { PROJECT_ROOT } from '../../topology/runtime/paths.ts';
import { machineInfo } from '../support/machine.ts';
import { acquireSearchRegions } from '../support/search-regions.ts';
import type { SearchRegions } from '../support/search-regions.ts';
import { round } from '../support/stats.ts';
import { parseOptions, USAGE } from './options.ts';
import type { FreshnessOptions } from './options.ts';
import { cleanupLeftovers } from './cleanup.ts';
import { runRepeat } from './repeat.ts';
import type { RepeatOptions, RepeatResult } from './repeat.ts';
import type { JvmWarmup } from './report.ts';
import { ingestTable, latencyTable, METHOD, stageTable, stepTable, summarizePhases, summarizeThroughput, throughputTable, verdicts, writeJson } from './report.ts';

/** The indexer's defaults (services/indexer/indexer.ts), which the ceiling's bulks copy. */
const INDEXER_FLUSH_BYTES = 5 * 1024 * 1024;
const INDEXER_LANES = 2;

async function main(): Promise<number> {
  const opts = parseOptions(process.argv.slice(2));
  if (opts.help) {
    console.log(USAGE);
    return 0;
  }
  const log = createLogger({ name: 'bench', level: process.env['GEOREPLICA_LOG_LEVEL'] ?? 'warn' });
  const startedAt = new Date();
  console.log(`bench runtime ${opts.stateDir}: starting what is not running (Kafka and OpenSearch in every region)...`);
  const regions = await acquireSearchRegions({ stateDir: opts.stateDir, portOffset: opts.portOffset, keep: opts.keepRegions, log });
  let released = false;
  const release = async (): Promise<void> => {
    if (released) return;
    released = true;
    await regions.release();
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    console.error(`\n${signal}: stopping${opts.keepRegions ? '' : ' the servers this run started, if any'}; this run's topics and indices stay: npm run bench:freshness -- --clean-leftovers --keep-regions`);
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

async function searchVersion(url: string): Promise<string> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(5_000) });
    return ((await res.json()) as { version?: { number?: string } }).version?.number ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

function jdkOf(pid: number | undefined): string {
  if (pid === undefined) return 'unknown';
  try {
    const java = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0] ?? '';
    const release = readFileSync(join(dirname(dirname(java)), 'release'), 'utf8');
    const field = (name: string): string | undefined => new RegExp(`^${name}="([^"]*)"`, 'm').exec(release)?.[1];
    return `${field('IMPLEMENTOR') ?? ''} ${field('JAVA_VERSION') ?? 'unknown'}`.trim();
  } catch {
    return 'unknown';
  }
}

async function bench(opts: FreshnessOptions, regions: SearchRegions, startedAt: Date): Promise<number> {
  const d = regions.deployment;
  const names = Object.keys(d.regions);
  if (!d.regions[opts.writeRegion]) throw new Error(`--write-region ${opts.writeRegion}: not a region (${names.join(', ')})`);
  const kafkaLog = createLogger({ name: 'bench-kafka', level: 'error' });
  const admins = new Map<string, Admin>();
  for (const region of names) {
    const a = kafkaClient({ bootstrap: d.regions[region]?.kafka.bootstrap ?? [], clientId: `bench-freshness-${region}`, log: kafkaLog }).admin();
    await a.connect();
    admins.set(region, a);
  }
  if (opts.cleanLeftovers) {
    const c = await cleanupLeftovers(d, admins);
    for (const a of admins.values()) await a.disconnect().catch(() => undefined);
    console.log(`deleted ${c.topics} topics, ${c.groups} groups, ${c.indices} indices${c.errors.length > 0 ? `; errors: ${c.errors.join('; ')}` : ''}`);
    return c.errors.length > 0 ? 1 : 0;
  }
  const brokerPids = Object.entries(regions.pids).filter(([n]) => n.includes('/kafka')).map(([, p]) => p);
  const searchPid = Object.entries(regions.pids).find(([n]) => n.endsWith('/opensearch'))?.[1];
  const machine = { ...machineInfo(brokerPids), opensearch: await searchVersion(d.regions[opts.writeRegion]?.search.url ?? ''), opensearchJdk: jdkOf(searchPid) };
  const command = `npm run bench:freshness${opts.argv.length > 0 ? ` -- ${opts.argv.join(' ')}` : ''}`;
  const logRoot = resolve(PROJECT_ROOT, opts.stateDir, 'freshness-logs');
  const repeatOptions: RepeatOptions = {
    rates: opts.rates,
    writeRegion: opts.writeRegion,
    warmupSeconds: opts.warmupSeconds,
    seconds: opts.seconds,
    sampleEvery: opts.sampleEvery,
    pollMs: opts.pollMs,
    bodySize: opts.docBytes,
    drainTimeoutSeconds: opts.drainTimeoutSeconds,
    maxInFlight: opts.maxInFlight,
    capacity: opts.capacity,
    ceiling: opts.ceiling,
    ceilingMaxDocs: opts.ceilingMaxDocs,
    ceilingMinDocs: opts.ceilingMinDocs,
    flushBytes: INDEXER_FLUSH_BYTES,
    lanes: INDEXER_LANES,
    logRoot,
    kafkaProbe: opts.kafkaProbe,
    replicationMode: opts.replicationMode,
    minCopyIntervalMs: opts.minCopyIntervalMs,
  };
  console.log(`freshness benchmark: writes in ${opts.writeRegion} at ${opts.rates.join(', ')} docs/s of ${opts.docBytes} B, ${opts.warmupSeconds} s warm-up + ${opts.seconds} s measured per rate, ${opts.repeats} repeats; observer samples 1 in ${opts.sampleEvery}, one search per region every ${opts.pollMs} ms`);
  console.log(`machine: ${machine.cores} cores (${machine.cpuModel}), ${machine.memoryGiB} GiB, Linux ${machine.kernel}, Node ${machine.node}, Kafka ${machine.kafka} on ${machine.jdk}, OpenSearch ${machine.opensearch} on ${machine.opensearchJdk}, kafka-javascript ${machine.kafkaJavascript} (librdkafka ${machine.librdkafka}), load average ${machine.loadAverage1m}`);
  console.log(`regions: ${regions.origin}; ${names.map((r) => `${r} ${d.regions[r]?.kafka.bootstrap.join(',')} ${d.regions[r]?.search.url}`).join('; ')}`);
  console.log(`process logs: ${logRoot}/<run>/`);

  const jvmWarmup = await warmUpJvms(opts, regions, d, admins, repeatOptions);
  const repeats: RepeatResult[] = [];
  const failures: Array<{ repeat: number; error: string }> = [];
  for (let repeat = 1; repeat <= opts.repeats; repeat++) {
    const label = `[#${repeat}]`;
    const t0 = Date.now();
    try {
      const r = await runRepeat({ base: d, admins, serverPids: regions.pids, repeat, options: repeatOptions, progress: (line) => console.log(`${label} ${line}`) });
      repeats.push(r);
      if (r.error) {
        failures.push({ repeat, error: r.error });
        console.log(`${label} FAILED: ${r.error} (what it measured before is kept)`);
      }
      console.log(`${label} done in ${((Date.now() - t0) / 1000).toFixed(0)} s (load average ${r.loadAverage1m} → ${r.loadAverage1mAtEnd}; cleanup: ${r.cleanup?.topics ?? 0} topics, ${r.cleanup?.groups ?? 0} groups, ${r.cleanup?.indices ?? 0} indices${r.cleanup && r.cleanup.errors.length > 0 ? `; errors: ${r.cleanup.errors.join('; ')}` : ''})`);
    } catch (err) {
      const error = (err as Error).message;
      failures.push({ repeat, error });
      console.log(`${label} FAILED: ${error}`);
    }
  }
  for (const a of admins.values()) await a.disconnect().catch(() => undefined);

  const finishedAt = new Date();
  const stamp = finishedAt.toISOString().replace(/\.\d+Z$/, 'Z').replace(/:/g, '-');
  const out = resolve(PROJECT_ROOT, opts.out ?? join('bench', 'results', `freshness-${stamp}.json`));
  const loadAverage1mAtEnd = round(loadavg()[0] ?? 0, 2);
  writeJson(
    out,
    {
      startedAt,
      finishedAt,
      command,
      machine,
      loadAverage1mAtEnd,
      regions: { origin: regions.origin, endpoints: Object.fromEntries(names.map((r) => [r, { kafka: d.regions[r]?.kafka.bootstrap.join(',') ?? '', search: d.regions[r]?.search.url ?? '' }])) },
      options: { ...opts, argv: undefined, help: undefined, indexerFlushBytes: INDEXER_FLUSH_BYTES, indexerLanes: INDEXER_LANES },
      jvmWarmup,
    },
    repeats,
    failures,
    opts.rates,
  );
  const phases = summarizePhases(repeats, opts.rates);
  console.log('');
  console.log(`Latency from the 202 until a search finds the document with its version. Median (min–max) of ${repeats.length} repeat(s); load average ${machine.loadAverage1m} at the start, ${loadAverage1mAtEnd} at the end.`);
  console.log(latencyTable(phases));
  console.log('');
  console.log('Indexing throughput (status counts) against the OpenSearch bulk ceiling of the same repeat:');
  console.log(throughputTable(phases, summarizeThroughput(repeats), opts.rates));
  console.log('');
  console.log('Where the time goes: cumulative ms from the 202, p50 / p99 (medians over the repeats):');
  console.log(stageTable(phases));
  console.log('');
  console.log('Each step on its own, ms: p50 / p99 / mean over the slowest 1 % of documents (medians over the repeats):');
  console.log(stepTable(phases));
  console.log('');
  console.log('Ingest:');
  console.log(ingestTable(repeats, opts.rates));
  console.log('');
  for (const v of verdicts(phases)) console.log(v);
  console.log(`\nmethod: ${METHOD.searchable}`);
  console.log(`wrote ${out} (${((finishedAt.getTime() - startedAt.getTime()) / 60_000).toFixed(1)} min)`);
  return failures.length > 0 ? 1 : 0;
}

/**
 * A JVM that just started runs interpreted and compiles as it goes: on this machine the same
 * code measured 40 s p50 at 500 docs/s right after the servers started and 8 s once they had run
 * the workload for 15 minutes (docs/BENCHMARKS.md, 2026-12-03). So when this run started any
 * server, an unmeasured run at the first rate comes first. From cold, 300 s at 500 docs/s got
 * only to the 5-minute state; its figures are kept in the JSON, so whether it had settled can be
 * read there.
 */
async function warmUpJvms(opts: FreshnessOptions, regions: SearchRegions, d: SearchRegions['deployment'], admins: ReadonlyMap<string, Admin>, repeatOptions: RepeatOptions): Promise<JvmWarmup | undefined> {
  const seconds = opts.jvmWarmupSeconds ?? (regions.started.length > 0 ? 300 : 0);
  if (seconds === 0) return undefined;
  const rate = opts.rates[0] as number;
  console.log(`[warm-up] ${seconds} s at ${rate} docs/s, not measured (servers started by this run: ${regions.started.length > 0 ? regions.started.join(', ') : 'none'})`);
  const t0 = Date.now();
  const r = await runRepeat({ base: d, admins, serverPids: regions.pids, repeat: 0, options: { ...repeatOptions, rates: [rate], seconds, capacity: false, ceiling: false }, progress: (line) => console.log(`[warm-up] ${line}`) });
  const p50 = Object.fromEntries((r.phases[0]?.regions ?? []).map((x) => [x.region, x.fromAck.p50]));
  console.log(`[warm-up] done in ${((Date.now() - t0) / 1000).toFixed(0)} s; its p50 ms ${Object.entries(p50).map(([k, v]) => `${k} ${v === null ? 'n/a' : Math.round(v)}`).join(', ')}${r.error ? `; it failed: ${r.error}` : ''}`);
  return { seconds, rate, p50Ms: p50, error: r.error };
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`bench:freshness: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
