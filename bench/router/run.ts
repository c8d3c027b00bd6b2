/**
 * `npm run bench:router`: the router's overhead and its failover time.
 *
 * Overhead: the same searches against one region's search endpoint directly, then through the
 * router (its own process, `services/router/main.ts`), in the same run, alternating
 * direct/router/router/direct so drift hits both alike. Three load shapes: one connection in a
 * closed loop (autocannon, rate 0: nothing queues, so the difference is the router's cost per
 * search); evenly paced open-loop arrivals at fixed rates (bench/support/paced-load.ts, the
 * figures the targets are judged on); and autocannon's own fixed rate, which sends each
 * connection's quota at the top of every second, so it shows what bursts of that size cost. The
 * regional endpoints are contract-following stubs answering from memory (stub-region.ts), one
 * process per region, so that the difference is the router's own cost. Latencies are taken per
 * response (µs precision).
 *
 * Failover: under 200 searches/s (paced) through the router, SIGKILL the nearest region's endpoint;
 * time until the router stops offering it (its /status says unhealthy or ejected) and until the
 * first answer from the next region; client-visible errors; 10 trials, the endpoint restarted
 * and traffic back between trials. Prints a table and writes bench/results/router-<ts>.json.
 *
 *   --rates 500,2000  --duration 15 (s per run)  --connections 32  --trials 10
 *   --repeats 3            the overhead measurements, repeated; the summary gives medians and min-max
 *   --router-flags "..."   V8 flags for the router process, to measure one (default: none, as deployed)
 *   --profile-router DIR   the router process writes a V8 CPU profile there when it stops
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Kvm } from '@nats-io/kv';
import { connect } from '@nats-io/transport-node';
import autocannon from 'autocannon';
import { stringify as toYaml, parse as parseYaml } from 'yaml';
import { sleep } from '../../core/retry.ts';
import type { RouterStatus } from '../../services/router/router-status.ts';
import { PROJECT_ROOT, TSX_IMPORT } from '../../topology/runtime/paths.ts';
import { pacedLoad } from '../support/paced-load.ts';
import { percentile, round, spread } from '../support/stats.ts';

const REGIONS = ['us-east', 'eu-west', 'ap-southeast'] as const;
const HOME = 'us-east';
const NEXT = 'eu-west';
const QUERY = '/search?q=kettle&size=10';

type Generator = 'closed-loop' | 'paced' | 'autocannon-rate';

interface LatencyRow {
  repeat: number;
  target: 'direct' | 'router';
  generator: Generator;
  /** Router rows: the router process's CPU time per answered search (µs), from its own process metrics. */
  cpuUsPerSearch?: number;
  /** Router rows: mean of georeplica_router_added_latency_seconds over the run (ms): its own time per search, queueing in its event loop included. */
  addedMeanMs?: number;
  rate: number;
  requests: number;
  errors: number;
  achievedRate: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

interface Trial {
  trial: number;
  movedMs: number;
  firstAnswerFromNextMs: number;
  errors: number;
  searches: number;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { rates: { type: 'string', default: '500,2000' }, duration: { type: 'string', default: '15' }, connections: { type: 'string', default: '32' }, trials: { type: 'string', default: '10' }, repeats: { type: 'string', default: '3' }, 'router-flags': { type: 'string', default: '' }, 'profile-router': { type: 'string' } } });
  const rates = values.rates.split(',').map(Number);
  const duration = Number(values.duration);
  const connections = Number(values.connections);
  const trials = Number(values.trials);
  const repeats = Number(values.repeats);
  if (!Number.isInteger(repeats) || repeats < 1) throw new Error(`--repeats: expected an integer >= 1, got "${values.repeats}"`);
  const routerFlags = values['router-flags'].split(' ').filter((f) => f !== '');
  const id = `bench-router-${randomUUID().slice(0, 8)}`;
  const children: ChildProcess[] = [];
  const ports = Object.fromEntries(await Promise.all(REGIONS.map(async (r) => [r, await freePort()] as const))) as Record<(typeof REGIONS)[number], number>;
  const routerPort = await freePort();
  const startStub = async (region: string): Promise<ChildProcess> => {
    const c = spawn(process.execPath, ['--import', TSX_IMPORT, join(PROJECT_ROOT, 'bench/router/stub-region.ts'), '--region', region, '--port', String(ports[region as (typeof REGIONS)[number]]), '--sources', REGIONS.join(',')], { stdio: 'inherit' });
    children.push(c);
    await waitFor(`http://127.0.0.1:${ports[region as (typeof REGIONS)[number]]}/health`);
    return c;
  };
  const cleanup = async (): Promise<void> => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
    const nc = await connect({ servers: '127.0.0.1:4222' }).catch(() => undefined);
    if (nc) {
      await (await new Kvm(nc).open(id)).destroy().catch(() => undefined);
      await nc.close();
    }
  };
  try {
    const stubs: Record<string, ChildProcess> = {};
    for (const r of REGIONS) stubs[r] = await startStub(r);

    // The local deployment with the stubs as search endpoints and this run's own bucket and cache keys.
    const doc = parseYaml(readFileSync(join(PROJECT_ROOT, 'topology/regions.local.yaml'), 'utf8')) as { regions: Record<string, { ports: Record<string, number> }>; router?: unknown };
    for (const r of REGIONS) {
      const p = doc.regions[r]?.ports;
      if (p) p['search'] = ports[r];
    }
    const home = doc.regions[HOME]?.ports;
    if (home) home['router'] = routerPort;
    doc.router = { nats: { bucket: id }, redis: { keyPrefix: `${id}:` } };
    const config = join(tmpdir(), `${id}.yaml`);
    writeFileSync(config, toYaml(doc));
    const profile = values['profile-router'] === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${values['profile-router']}`];
    const router = spawn(process.execPath, [...routerFlags, ...profile, '--import', TSX_IMPORT, join(PROJECT_ROOT, 'services/router/main.ts'), '--region', HOME, '--config', config], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, GEOREPLICA_LOG_LEVEL: 'error' } });
    children.push(router);
    const routerUrl = `http://127.0.0.1:${routerPort}`;
    await waitFor(`${routerUrl}/health`);

    const machine = { cores: cpus().length, cpu: cpus()[0]?.model.trim() ?? 'unknown', memoryGiB: round(totalmem() / 1024 ** 3, 1), node: process.version, loadAverage1mAtStart: round(loadavg()[0] ?? 0, 2) };
    console.log(`machine: ${machine.cores} cores (${machine.cpu}), ${machine.memoryGiB} GiB, Node ${machine.node}; load average ${machine.loadAverage1mAtStart} at start (other work shares these cores)`);

    // Warm both paths (JIT, keep-alive pools) before measuring.
    await cannon(`http://127.0.0.1:${ports[HOME]}${QUERY}`, 500, 3, connections);
    await cannon(`${routerUrl}${QUERY}`, 500, 3, connections);

    const rows: LatencyRow[] = [];
    for (let repeat = 1; repeat <= repeats; repeat++) {
      // One connection, closed loop: each search waits for the previous one, so nothing queues and
      // the difference is the router's per-search cost alone (rate 0 in the table).
      {
        const per: Record<'direct' | 'router', number[]> = { direct: [], router: [] };
        const seconds: Record<'direct' | 'router', number> = { direct: 0, router: 0 };
        for (const target of ['direct', 'router', 'router', 'direct'] as const) {
          const r = await cannon(target === 'direct' ? `http://127.0.0.1:${ports[HOME]}${QUERY}` : `${routerUrl}${QUERY}`, 0, duration / 4, 1);
          per[target].push(...r.latencies);
          seconds[target] += r.seconds;
        }
        for (const target of ['direct', 'router'] as const) {
          const all = per[target].sort((a, b) => a - b);
          rows.push({ repeat, target, generator: 'closed-loop', rate: 0, requests: all.length, errors: 0, achievedRate: round(all.length / seconds[target]), ...latencyFigures(all) });
        }
      }
      for (const generator of ['paced', 'autocannon-rate'] as const) {
        for (const rate of rates) {
          const runs: Record<'direct' | 'router', number[][]> = { direct: [], router: [] };
          const counts = { direct: { n: 0, errors: 0, seconds: 0 }, router: { n: 0, errors: 0, seconds: 0 } };
          const cost = { cpu: 0, added: 0, addedCount: 0 };
          for (const target of ['direct', 'router', 'router', 'direct'] as const) {
            const url = target === 'direct' ? `http://127.0.0.1:${ports[HOME]}${QUERY}` : `${routerUrl}${QUERY}`;
            const before = target === 'router' ? await routerCounters(routerUrl) : undefined;
            const r = generator === 'paced' ? await paced(url, rate, duration / 2, connections) : await cannon(url, rate, duration / 2, connections);
            if (before) {
              const after = await routerCounters(routerUrl);
              cost.cpu += after.cpuSeconds - before.cpuSeconds;
              cost.added += after.addedSum - before.addedSum;
              cost.addedCount += after.addedCount - before.addedCount;
            }
            runs[target].push(r.latencies);
            counts[target].n += r.latencies.length;
            counts[target].errors += r.errors;
            counts[target].seconds += r.seconds;
            console.log(`  [${repeat}/${repeats}] ${generator} ${target} at ${rate}/s: ${r.latencies.length} answers in ${r.seconds.toFixed(1)} s, ${r.errors} errors`);
          }
          for (const target of ['direct', 'router'] as const) {
            const all = runs[target].flat().sort((a, b) => a - b);
            const own = target === 'router' ? { cpuUsPerSearch: round((cost.cpu * 1e6) / Math.max(1, cost.addedCount), 1), addedMeanMs: round((cost.added * 1000) / Math.max(1, cost.addedCount), 3) } : {};
            rows.push({ repeat, target, generator, rate, requests: counts[target].n, errors: counts[target].errors, achievedRate: round(counts[target].n / counts[target].seconds), ...latencyFigures(all), ...own });
          }
        }
      }
    }

    const trialRows: Trial[] = [];
    for (let t = 1; t <= trials; t++) {
      trialRows.push(await failoverTrial(t, routerUrl, stubs, startStub));
      const last = trialRows[trialRows.length - 1] as Trial;
      console.log(`  failover trial ${t}: router stopped offering ${HOME} after ${last.movedMs} ms, first answer from ${NEXT} after ${last.firstAnswerFromNextMs} ms, ${last.errors} errors in ${last.searches} searches`);
    }

    const report = { id, startedAt: new Date().toISOString(), machine, loadAverage1mAtEnd: round(loadavg()[0] ?? 0, 2), settings: { durationSec: duration, connections, repeats, routerFlags, query: QUERY, failoverLoadPerSec: 200 }, latency: rows, failover: trialRows };
    console.log(`\n${formatReport(report)}`);
    mkdirSync(join(PROJECT_ROOT, 'bench/results'), { recursive: true });
    const file = join(PROJECT_ROOT, 'bench/results', `router-${report.startedAt.replace(/[:.]/g, '-').replace(/-\d{3}Z$/, 'Z')}.json`);
    writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
    console.log(`\nwritten to ${file}`);
  } finally {
    await cleanup();
  }
}

/** One autocannon run at a fixed overall rate; latencies in ms from each response (µs precision). */
async function cannon(url: string, rate: number, seconds: number, connections: number): Promise<{ latencies: number[]; errors: number; seconds: number }> {
  const latencies: number[] = [];
  let errors = 0;
  const t0 = performance.now();
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon({ url, ...(rate > 0 ? { overallRate: rate } : {}), duration: seconds, connections }, (err, r) => (err ? reject(err instanceof Error ? err : new Error(String(err))) : resolve(r)));
    instance.on('response', (_client: unknown, statusCode: number, _bytes: number, ms: number) => {
      if (statusCode === 200) latencies.push(ms);
      else errors++;
    });
  });
  errors += result.errors + result.timeouts;
  return { latencies, errors, seconds: (performance.now() - t0) / 1000 };
}

/** Evenly paced arrivals; latency from each request's due time (see paced-load.ts). */
async function paced(url: string, rate: number, seconds: number, maxSockets: number): Promise<{ latencies: number[]; errors: number; seconds: number }> {
  const t0 = performance.now();
  const load = pacedLoad({ url, ratePerSec: rate, maxSockets });
  await sleep(seconds * 1000);
  await load.stop();
  const ok = load.answers.filter((a) => a.status === 200);
  // A search still unanswered after the drain counts as an error.
  return { latencies: ok.map((a) => a.doneAt - a.dueAt), errors: load.sent() - ok.length, seconds: (performance.now() - t0) / 1000 };
}

async function failoverTrial(trial: number, routerUrl: string, stubs: Record<string, ChildProcess>, startStub: (region: string) => Promise<ChildProcess>): Promise<Trial> {
  const load = pacedLoad({ url: `${routerUrl}${QUERY}`, ratePerSec: 200 });
  const region = (a: { headers: Record<string, string | string[] | undefined> }): string | undefined => a.headers['x-served-by-region'] as string | undefined;
  try {
    // Traffic on the home region, fully ramped up, before the kill.
    for (let i = 0; i < 600; i++) {
      const s = await status(routerUrl);
      const home = s?.regions.find((r) => r.region === HOME);
      if (home?.healthy && !home.ejected && home.phase === 'active' && load.answers.length >= 20 && load.answers.slice(-20).every((a) => region(a) === HOME)) break;
      await sleep(50);
    }
    const tKill = performance.now();
    stubs[HOME]?.kill('SIGKILL');
    let movedMs = NaN;
    for (let i = 0; i < 400; i++) {
      const home = (await status(routerUrl))?.regions.find((r) => r.region === HOME);
      if (home !== undefined && (!home.healthy || home.ejected)) {
        movedMs = performance.now() - tKill;
        break;
      }
      await sleep(5);
    }
    // Searches sent around the kill may wait behind others on a loaded machine: give them time to answer.
    await sleep(3_000);
    const first = load.answers.filter((a) => a.sentAt >= tKill && region(a) === NEXT).sort((a, b) => a.doneAt - b.doneAt)[0];
    const window = load.answers.filter((a) => a.sentAt >= tKill - 1_000);
    stubs[HOME] = await startStub(HOME);
    return { trial, movedMs: round(movedMs, 1), firstAnswerFromNextMs: round((first?.doneAt ?? NaN) - tKill, 1), errors: window.filter((a) => a.status !== 200).length, searches: window.length };
  } finally {
    await load.stop();
  }
}

function formatReport(r: { machine: { cores: number; cpu: string; memoryGiB: number; node: string; loadAverage1mAtStart: number }; loadAverage1mAtEnd: number; settings: { durationSec: number; connections: number; repeats: number; routerFlags: string[] }; latency: LatencyRow[]; failover: Trial[] }): string {
  const lines = [`Router overhead (closed-loop: autocannon, 1 connection; paced: evenly spaced open-loop arrivals, up to ${r.settings.connections} sockets, latency from the due time; autocannon-rate: autocannon overallRate over ${r.settings.connections} connections, per-second bursts; ${r.settings.durationSec} s per rate and target, ms):`, '', '| repeat | load | rate (req/s) | target | answers | errors | achieved req/s | p50 | p90 | p99 | max | router CPU per search (µs) | router-added mean (ms) |', '|---|---|---|---|---|---|---|---|---|---|---|---|---|'];
  for (const x of r.latency) lines.push(`| ${x.repeat} | ${x.generator} | ${x.rate} | ${x.target} | ${x.requests} | ${x.errors} | ${x.achievedRate} | ${x.p50} | ${x.p90} | ${x.p99} | ${x.max} | ${x.cpuUsPerSearch ?? ''} | ${x.addedMeanMs ?? ''} |`);
  const overheads = overheadsOf(r.latency);
  lines.push('', '| repeat | load | rate (req/s) | overhead p50 (ms) | overhead p99 (ms) | router/direct p50 | router/direct p99 |', '|---|---|---|---|---|---|---|');
  for (const o of overheads) lines.push(`| ${o.repeat} | ${o.generator} | ${o.rate} | ${o.p50} | ${o.p99} | ${o.ratioP50} | ${o.ratioP99} |`);
  // The targets are judged on the medians: one repeat's p99 on a shared 2-core machine moves by more than the target.
  const flags = r.settings.routerFlags.length > 0 ? r.settings.routerFlags.join(' ') : 'none';
  lines.push('', `Median (min-max) over ${r.settings.repeats} repeat(s), router V8 flags: ${flags}:`, '', '| load | rate (req/s) | overhead p50 (ms) | overhead p99 (ms) | router CPU per search (µs) |', '|---|---|---|---|---|');
  for (const key of [...new Set(overheads.map((o) => `${o.generator}|${o.rate}`))]) {
    const mine = overheads.filter((o) => `${o.generator}|${o.rate}` === key);
    const cpu = r.latency.filter((x) => `${x.generator}|${x.rate}` === key && x.cpuUsPerSearch !== undefined).map((x) => x.cpuUsPerSearch as number);
    const first = mine[0] as Overhead;
    lines.push(`| ${first.generator} | ${first.rate} | ${medianOf(mine.map((o) => o.p50))} | ${medianOf(mine.map((o) => o.p99))} | ${cpu.length > 0 ? medianOf(cpu) : ''} |`);
  }
  const measured = (xs: number[]): number[] => xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  const moved = measured(r.failover.map((t) => t.movedMs));
  const first = measured(r.failover.map((t) => t.firstAnswerFromNextMs));
  lines.push('', `Failover (${r.failover.length} trials, SIGKILL of the nearest region's endpoint under 200 searches/s):`, '', '| measure | trials measured | p50 (ms) | max (ms) |', '|---|---|---|---|');
  lines.push(`| router stops offering the dead region | ${moved.length} | ${percentile(moved, 50)} | ${moved[moved.length - 1]} |`);
  // A trial has no figure here when no answer to a search sent after the kill arrived within 1 s of the router moving away.
  lines.push(`| first answer from the next region | ${first.length} | ${percentile(first, 50)} | ${first[first.length - 1]} |`);
  lines.push(`| client-visible errors | | ${r.failover.reduce((n, t) => n + t.errors, 0)} in ${r.failover.reduce((n, t) => n + t.searches, 0)} searches | |`);
  lines.push('', `Machine: ${r.machine.cores} cores (${r.machine.cpu}), ${r.machine.memoryGiB} GiB, Node ${r.machine.node}; load average ${r.machine.loadAverage1mAtStart} at start, ${r.loadAverage1mAtEnd} at end.`);
  return lines.join('\n');
}

/** p50, p90, p99 and max (ms) of sorted latencies. */
function latencyFigures(sorted: readonly number[]): Pick<LatencyRow, 'p50' | 'p90' | 'p99' | 'max'> {
  return { p50: round(percentile(sorted, 50), 3), p90: round(percentile(sorted, 90), 3), p99: round(percentile(sorted, 99), 3), max: round(sorted[sorted.length - 1] ?? NaN, 3) };
}

interface Overhead {
  repeat: number;
  generator: Generator;
  rate: number;
  p50: number;
  p99: number;
  ratioP50: number;
  ratioP99: number;
}

/** Router minus direct, per repeat, load and rate. */
function overheadsOf(rows: readonly LatencyRow[]): Overhead[] {
  const out: Overhead[] = [];
  for (const o of rows.filter((x) => x.target === 'router')) {
    const d = rows.find((x) => x.target === 'direct' && x.repeat === o.repeat && x.generator === o.generator && x.rate === o.rate);
    if (d) out.push({ repeat: o.repeat, generator: o.generator, rate: o.rate, p50: round(o.p50 - d.p50, 3), p99: round(o.p99 - d.p99, 3), ratioP50: round(o.p50 / d.p50, 2), ratioP99: round(o.p99 / d.p99, 2) });
  }
  return out;
}

/** "median (min-max)" of a few figures. */
function medianOf(xs: readonly number[]): string {
  const s = spread(xs);
  return xs.length < 2 ? String(round(s.median, 3)) : `${round(s.median, 3)} (${s.min}-${s.max})`;
}

/** The router's own counters: process CPU seconds and the added-latency histogram's sum and count. */
async function routerCounters(base: string): Promise<{ cpuSeconds: number; addedSum: number; addedCount: number }> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const value = (name: string): number => Number(new RegExp(`^${name} ([0-9.e+-]+)$`, 'm').exec(text)?.[1] ?? NaN);
  return { cpuSeconds: value('georeplica_router_process_cpu_seconds_total'), addedSum: value('georeplica_router_added_latency_seconds_sum'), addedCount: value('georeplica_router_added_latency_seconds_count') };
}

async function status(base: string): Promise<RouterStatus | undefined> {
  try {
    const res = await fetch(`${base}/status`, { signal: AbortSignal.timeout(1_000) });
    return res.ok ? ((await res.json()) as RouterStatus) : undefined;
  } catch {
    return undefined;
  }
}

async function waitFor(url: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1_000) });
      if (res.ok) return;
    } catch {
      // not up yet
    }
    await sleep(100);
  }
  throw new Error(`${url} did not come up within 60 s`);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const address = s.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      s.close(() => resolve(port));
    });
  });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
