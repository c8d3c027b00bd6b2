/**
 * Runs chaos scenarios against a running local runtime: starts the fleet of services under test
 * once, then per scenario runs the load, the fault schedule and the searches for the scenario's
 * duration, heals whatever is left, waits (at most the quiet period) for the system to settle,
 * and checks the invariants. The fleet is stopped at the end, pass or fail.
 */
import { loadavg } from 'node:os';
import { randomUUID } from 'node:crypto';
import type { Deployment } from '../config/schema.ts';
import { GeoError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import { sleep } from '../core/retry.ts';
import type { LocalRuntime } from '../topology/runtime/local-runtime.ts';
import { check } from './checker.ts';
import type { Verdict } from './checker.ts';
import { auditCopy } from './copy-audit.ts';
import type { CopyAudit } from './copy-audit.ts';
import { FaultSchedule } from './fault-schedule.ts';
import { FLEET_INDEX, Fleet } from './fleet.ts';
import { FreshnessProbe } from './freshness-probe.ts';
import { indexSnapshot } from './index-snapshot.ts';
import type { StoredDoc } from './index-snapshot.ts';
import { decide, resultJson, secs } from './report.ts';
import type { ScenarioResult } from './report.ts';
import type { Scenario } from './scenario.ts';
import { SearchLoad } from './search-load.ts';
import { Supervisor } from './supervisor.ts';
import { faultFigures, summarizeFreshness, summarizeSearches } from './serving.ts';
import { ChaosSystem } from './system.ts';
import { Workload } from './workload.ts';

export interface RunOptions {
  runtime: LocalRuntime;
  scenarios: readonly Scenario[];
  log: Logger;
  /** One line per step, for a human watching. */
  progress?: (line: string) => void;
}

const SETTLE_POLL_MS = 3_000;
const STEADY_TIMEOUT_MS = 180_000;
const WARM_ROUND_MS = 3_000;
const WARM_LATENCY_MS = 1_000;
const WARM_UP_MAX_MS = 90_000;

export interface ScenarioError {
  scenario: string;
  error: string;
}

export async function runScenarios(o: RunOptions): Promise<{ results: ScenarioResult[]; errors: ScenarioError[] }> {
  const say = o.progress ?? (() => undefined);
  for (const s of o.scenarios) assertRequirements(o.runtime.deployment, s);
  const routers = [...new Set(o.scenarios.flatMap((s) => s.routers))];
  const fleet = new Fleet({ base: o.runtime.deployment, stateDir: o.runtime.stateDir, routers, log: o.log, readyTimeoutSec: o.runtime.deployment.runtime.readyTimeoutSec });
  const system = new ChaosSystem(o.runtime, fleet, o.log);
  const results: ScenarioResult[] = [];
  const errors: ScenarioError[] = [];
  try {
    say(`starting the fleet under test (${fleet.namespace}): ${fleet.names.length} services`);
    await system.healAll();
    await fleet.up();
    for (const s of o.scenarios) {
      say(`[${s.name}] ${s.description}`);
      try {
        const r = await runScenario(system, s, o.log, say);
        say(`[${s.name}] ${r.checks.passed ? 'PASS' : `FAIL: ${r.checks.failures.join('; ')}`}`);
        const failed = Object.entries(r.serving.failures);
        const window = r.serving.failedBetweenMs;
        if (failed.length > 0 && window) say(`[${s.name}] failed searches, started ${secs(window[0])}–${secs(window[1])} after the load began (faults at ${r.faults.map((f) => secs(f.startedAtMs)).join(', ') || '-'}): ${failed.slice(0, 8).map(([k, n]) => `${k} ×${n}`).join(', ')}`);
        o.log.info({ result: resultJson(r) }, 'scenario result');
        results.push(r);
      } catch (err) {
        // A scenario that could not be carried out is a failure; the next one still runs on a healed system.
        o.log.error({ err, scenario: s.name }, 'scenario could not be run');
        say(`[${s.name}] ERROR: ${(err as Error).message.split('\n')[0] ?? ''}`);
        errors.push({ scenario: s.name, error: (err as Error).message });
        await system.healAll();
      }
    }
  } finally {
    await system.healAll();
    await fleet.down();
    say('fleet stopped');
  }
  return { results, errors };
}

/** The runtime must have what the scenario needs, or nothing starts. */
export function assertRequirements(d: Readonly<Deployment>, s: Scenario): void {
  const problems: string[] = [];
  for (const [region, n] of Object.entries(s.requires.brokers)) {
    const have = d.regions[region]?.kafka.bootstrap.length;
    if (have === undefined) problems.push(`region ${region} is not in the runtime's deployment`);
    else if (have < n) problems.push(`${region} needs ${n} brokers, the runtime has ${have}`);
  }
  if (s.requires.linkProxies && !d.runtime.linkProxies.enabled) problems.push('it needs link proxies (runtime.linkProxies.enabled: true)');
  for (const r of s.routers) if (!d.regions[r]) problems.push(`routers: region ${r} is not in the runtime's deployment`);
  if (problems.length > 0) throw new GeoError('INVALID_ARGUMENT', `Scenario ${s.name} (${s.file}) cannot run on this runtime: ${problems.join('; ')}. Use a runtime that has them (e.g. "georeplica down --state-dir <dir>" and let "georeplica chaos run" start its default runtime).`, { details: { scenario: s.name, problems } });
}

async function runScenario(system: ChaosSystem, s: Scenario, log: Logger, say: (line: string) => void): Promise<ScenarioResult> {
  const wallStart = Date.now();
  const loadStart = loadavg();
  const fleet = system.fleet;
  const regions = Object.keys(system.deployment.regions);
  const byService = (service: string): Record<string, string> => Object.fromEntries(regions.map((r) => [r, fleet.url(`${r}/${service}`)]));
  await waitSteady(system, log);
  const searchOptions = { via: s.load.searchVia, routers: s.routers.map((r) => fleet.url(`${r}/router`)), searchApis: byService('search'), searchesPerSec: s.load.searchesPerSec };
  const warm = await warmUp(searchOptions);
  say(`[${s.name}] ${warm.ok ? `searches warm after ${secs(warm.ms)}` : `searches still failing or slow after ${secs(warm.ms)} of warm-up; running anyway`}`);

  const idPrefix = `${s.name}-${randomUUID().slice(0, 6)}`;
  const t0 = performance.now();
  const workload = new Workload({ ingest: byService('ingest'), writesPerSec: s.load.writesPerSec, ids: s.load.ids, deleteEvery: s.load.deleteEvery, idPrefix, t0 });
  const searches = new SearchLoad({ ...searchOptions, t0 });
  const probe = new FreshnessProbe({ workload, searchApis: byService('search'), everyMs: s.load.probeEvery, idPrefix, t0 });
  const schedule = new FaultSchedule(system, s.faults, log);
  const supervisor = new Supervisor(system, t0, log);

  supervisor.start();
  workload.start();
  searches.start();
  probe.start();
  say(`[${s.name}] load on for ${s.duration / 1000} s with ${s.faults.length} fault(s)`);
  let loadMs = 0;
  let healedAtEnd: string[] = [];
  let verdict: Verdict | undefined;
  let settleMs: number | undefined;
  try {
    const faultsDone = schedule.run(t0);
    try {
      await sleep(s.duration);
    } finally {
      schedule.stop();
      loadMs = Math.round(performance.now() - t0);
      await Promise.all([workload.stop(), searches.stop(), probe.stopIssuing()]);
    }
    // The quiet period bounds everything after the load: a heal still under way (a restarting
    // broker on a starved machine) gets what is left of it, and so does settling.
    const settleStart = performance.now();
    const deadline = settleStart + s.quiet;
    say(`[${s.name}] load stopped after ${Math.round(loadMs / 1000)} s; waiting up to ${s.quiet / 1000} s for the system to settle`);
    await Promise.race([faultsDone, sleep(s.quiet)]);
    // The heal and the supervisor would race to start the same servers: one at a time.
    await supervisor.stop();
    healedAtEnd = await system.healAll();
    supervisor.start();

    const ids = [...new Set(workload.records.map((w) => w.id))];
    for (;;) {
      const last = performance.now() >= deadline;
      const snapshots = await snapshotsOf(system, regions, ids);
      const indexOnly = check({ writes: workload.records, regions, snapshots, audits: [] });
      const indexClean = indexOnly.lostInIndex.length === 0 && indexOnly.converged && indexOnly.phantoms.length === 0;
      if (indexClean || last) {
        // Until the last pass, a copy that cannot be read yet (its cluster still recovering) is tried again.
        const audits = last ? await auditAll(system, regions, log, 15_000) : await auditAll(system, regions, log, 5_000).catch((err: unknown) => (log.warn({ err }, 'copy audit failed; retrying'), undefined));
        if (audits) {
          verdict = check({ writes: workload.records, regions, snapshots, audits });
          if (indexClean && verdict.lostInCopies.length === 0 && verdict.missingInCopies === 0) {
            settleMs = Math.round(performance.now() - settleStart);
            break;
          }
        }
        if (last) break;
      }
      await sleep(SETTLE_POLL_MS);
    }
  } finally {
    await Promise.all([probe.stopWatching(), supervisor.stop()]);
  }
  if (!verdict) throw new GeoError('INTERNAL', `Scenario ${s.name}: no verdict was reached.`);

  const serving = summarizeSearches(searches.records);
  const faults = faultFigures(schedule.events, searches.records, probe.results, regions);
  const checks = decide(s, verdict, serving, faults, supervisor.exits);
  return {
    scenario: s.name,
    description: s.description,
    file: s.file,
    startedAt: new Date(wallStart).toISOString(),
    wallSeconds: Math.round((Date.now() - wallStart) / 1000),
    loadAverage: { start: loadStart.map(round2), end: loadavg().map(round2) },
    durationMs: s.duration,
    loadMs,
    quietLimitMs: s.quiet,
    settleMs,
    verdict,
    writesSkipped: workload.skipped,
    serving: { ...serving, via: s.load.searchVia },
    freshness: summarizeFreshness(probe.results, regions),
    faults,
    healedAtEnd,
    unexpectedExits: supervisor.exits,
    checks,
    ...(checks.passed ? {} : { replicationAtFailure: await replicationSummary(system, regions) }),
  };
}

/** Per region its indexer, one line per flow, and one per partition that is not idle and caught up: what a failed check needs explained. */
async function replicationSummary(system: ChaosSystem, regions: readonly string[]): Promise<string[]> {
  const lines: string[] = [];
  for (const r of regions) {
    const status = (await getStatus(`${system.fleet.url(`${r}/replicator`)}/status`)) as { flows?: Array<{ flow: string; state: string; reason?: string; partitions: Array<{ topic: string; partition: number; state: string; reason?: string; nextSourceOffset?: string; highWatermark?: string; lagRecords?: number; skippedOffsets?: number; checkpointAgeMs?: number; copyingForMs?: number }> }> } | undefined;
    if (!status?.flows) {
      lines.push(`${r}/replicator: no status`);
      continue;
    }
    const ix = (await getStatus(`${system.fleet.url(`${r}/indexer`)}/status`)) as { state?: string; paused?: string[]; counts?: Record<string, number>; bufferedRecords?: number; subscribed?: string[]; lastError?: string } | undefined;
    lines.push(ix ? `${r}/indexer: ${ix.state} paused=[${(ix.paused ?? []).join(',')}] buffered=${ix.bufferedRecords} subscribed=${(ix.subscribed ?? []).length} counts=${JSON.stringify(ix.counts)}${ix.lastError ? ` lastError=${ix.lastError}` : ''}` : `${r}/indexer: no status`);
    for (const f of status.flows) {
      lines.push(`${f.flow}: ${f.state}${f.reason ? ` (${f.reason})` : ''}`);
      for (const p of f.partitions) {
        // The workload's sources are plain (no transactions, no compaction): a skipped offset there is a lost record.
        if (p.state === 'idle' && (p.lagRecords ?? 0) === 0 && (p.skippedOffsets ?? 0) === 0) continue;
        lines.push(`  ${p.topic}/${p.partition} ${p.state}${p.reason ? ` (${p.reason})` : ''} next=${p.nextSourceOffset ?? '-'} hw=${p.highWatermark ?? '-'} lag=${p.lagRecords ?? '-'} skipped=${p.skippedOffsets ?? '-'} checkpointAge=${p.checkpointAgeMs ?? '-'}ms${p.copyingForMs === undefined ? '' : ` copyingFor=${p.copyingForMs}ms`}`);
      }
    }
  }
  return lines;
}

/**
 * Searches at the scenario's rate, not counted, in rounds of WARM_ROUND_MS until a whole round
 * succeeded within WARM_LATENCY_MS each (or WARM_UP_MAX_MS passed): availability is then measured
 * on the fault, not on a fleet whose OpenSearch caches, JIT and connections are still cold. On a
 * loaded 2-core machine, the first 30-50 s after the fleet starts fail searches in every region.
 */
async function warmUp(o: Omit<ConstructorParameters<typeof SearchLoad>[0], 't0'>): Promise<{ ok: boolean; ms: number }> {
  const started = performance.now();
  if (o.searchesPerSec <= 0) return { ok: true, ms: 0 };
  for (;;) {
    const round = new SearchLoad({ ...o, t0: performance.now() });
    round.start();
    await sleep(WARM_ROUND_MS);
    await round.stop();
    const ok = round.records.length > 0 && round.records.every((r) => r.ok && r.endedAt - r.startedAt <= WARM_LATENCY_MS);
    const ms = Math.round(performance.now() - started);
    if (ok || ms > WARM_UP_MAX_MS) return { ok, ms };
  }
}

/** Waits until every replicator's flows run, every indexer runs and every search API answers. */
async function waitSteady(system: ChaosSystem, log: Logger): Promise<void> {
  const regions = Object.keys(system.deployment.regions);
  const deadline = Date.now() + STEADY_TIMEOUT_MS;
  for (;;) {
    const checks = await Promise.all(
      regions.flatMap((r) => [
        getStatus(`${system.fleet.url(`${r}/replicator`)}/health`).then((h) => (h as { status?: string } | undefined)?.status === 'ok'),
        getStatus(`${system.fleet.url(`${r}/indexer`)}/health`).then((h) => h !== undefined),
        getStatus(`${system.fleet.url(`${r}/search`)}/search?q=steady`).then((h) => h !== undefined),
      ]),
    );
    if (checks.every(Boolean)) return;
    if (Date.now() > deadline) {
      log.warn('the fleet did not become steady in time; running anyway (the checks will tell)');
      return;
    }
    await sleep(1_000);
  }
}

async function getStatus(url: string): Promise<unknown> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
    return res.ok ? await res.json() : undefined;
  } catch {
    return undefined;
  }
}

async function snapshotsOf(system: ChaosSystem, regions: readonly string[], ids: readonly string[]): Promise<Record<string, Map<string, StoredDoc> | undefined>> {
  const entries = await Promise.all(regions.map(async (r) => [r, await indexSnapshot(system.deployment.regions[r]?.search.url ?? '', FLEET_INDEX, ids)] as const));
  return Object.fromEntries(entries);
}

async function auditAll(system: ChaosSystem, regions: readonly string[], log: Logger, idleMs: number): Promise<CopyAudit[]> {
  const pairs = regions.flatMap((source) => regions.filter((t) => t !== source).map((target) => ({ source, target })));
  return Promise.all(pairs.map((p) => auditCopy({ deployment: system.deployment, source: p.source, target: p.target, log, idleMs })));
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}
