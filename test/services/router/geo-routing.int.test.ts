/**
 * The router over the three real test regions: each region a whole stack (replicator, indexer,
 * ingest and search API, test/support/region-stack.ts) on the shared Kafka and OpenSearch, and
 * two router instances sharing one drain bucket. Servers are killed, paused and restarted only
 * inside a test, and always started again in `finally`.
 */
import type { LightMyRequestResponse } from 'fastify';
import { describe, expect, it } from 'vitest';
import { sleep } from '../../../core/retry.ts';
import type { RouterApi } from '../../../services/router/router-api.ts';
import { useRegionStacks } from '../../support/region-stack.ts';
import type { Stacks } from '../../support/region-stack.ts';
import { testRuntime } from '../../support/regions.ts';
import { useRouters } from '../../support/router-fixture.ts';
import type { SettingsOverride } from '../../support/router-fixture.ts';
import { routerLoad } from '../../support/router-load.ts';
import type { LoadSample } from '../../support/router-load.ts';

/**
 * The contract's probe period (the endpoint answers /health from a ~250 ms cache) and default
 * ejections. Per-try timeout and deadline are longer than the defaults: on this shared 2-core
 * machine, with other suites' servers running, a cold OpenSearch answers 100 searches/s with a
 * p97.5 of ~550 ms (measured directly with autocannon), and a per-try timeout below that would
 * eject healthy regions. The failures under test (a killed OpenSearch, a drain) fail fast anyway.
 */
const REAL: SettingsOverride = {
  probe: { intervalMs: 200, timeoutMs: 1_000, rise: 2, fall: 2 },
  outlier: { consecutiveErrors: 3, baseEjectionMs: 2_000, maxEjectionMs: 30_000 },
  perTryTimeoutMs: 3_000,
  deadlineMs: 8_000,
  slowStartMs: 2_000,
  // Wide, so that tests of health, drain and the cache are not disturbed by replication lag on
  // this loaded machine; the freshness test sets its own bound.
  freshnessBoundMs: 60_000,
};

/** Answers per 500 ms of send time, relative to `t0`: for reading what happened when a test fails. */
function timeline(samples: LoadSample[], t0: number): string {
  const rows = new Map<number, Map<string, number>>();
  for (const x of samples) {
    const slot = Math.floor((x.sentAt - t0) / 500) * 500;
    const row = rows.get(slot) ?? new Map<string, number>();
    const key = `${x.status} ${x.region ?? '-'} ${x.reason ?? x.error ?? '-'}`;
    row.set(key, (row.get(key) ?? 0) + 1);
    rows.set(slot, row);
  }
  return [...rows].sort(([a], [b]) => a - b).map(([slot, row]) => `${String(slot).padStart(7)} ms: ${[...row].map(([k, n]) => `${k} ×${n}`).join(', ')}`).join('\n');
}

describe('router over three real regions, two router instances', () => {
  const runtime = testRuntime();
  const stacks = useRegionStacks(runtime);
  const routers = useRouters();

  async function setup(...extra: SettingsOverride[]): Promise<{ s: Stacks; a: RouterApi; b: RouterApi; urlA: string; urlB: string }> {
    const s = await stacks();
    const endpoints = Object.fromEntries(Object.entries(s.regions).map(([region, st]) => [region, { host: '127.0.0.1', port: Number(new URL(st.searchUrl).port) }]));
    const ns = routers.namespace();
    const a = await routers.build({ deployment: s.deployment, region: 'us-east', endpoints, settings: [ns, REAL, ...extra] });
    const b = await routers.build({ deployment: s.deployment, region: 'eu-west', endpoints, settings: [ns, REAL, ...extra] });
    // Every region healthy and fresh: the replicated heartbeats have arrived everywhere.
    for (const r of [a, b]) await expect.poll(() => r.router.status().regions.map((x) => `${x.region}:${x.healthy}:${x.fresh}:${x.phase}`), { timeout: 90_000, interval: 250 }).toEqual(Object.keys(s.deployment.regions).map((x) => `${x}:true:true:active`));
    for (const region of Object.keys(s.regions)) await s.put(region, `doc-${region}`, { seq: 1, title: `kettle from ${region}` });
    const urlA = await a.app.listen({ host: '127.0.0.1', port: 0 });
    const urlB = await b.app.listen({ host: '127.0.0.1', port: 0 });
    return { s, a, b, urlA, urlB };
  }

  const get = (api: RouterApi, url: string, headers: Record<string, string> = {}, remoteAddress?: string): Promise<LightMyRequestResponse> => api.app.inject({ method: 'GET', url, headers, ...(remoteAddress ? { remoteAddress } : {}) });
  const served = (r: LightMyRequestResponse): [number, string | undefined, string | undefined] => [r.statusCode, r.headers['x-served-by-region'] as string | undefined, r.headers['x-route-reason'] as string | undefined];
  /**
   * Polls until `url` is served by `region` as the nearest, and returns that answer. On a starved
   * machine a probe can time out twice in a row between setup() and a request, and the region is
   * then rightly out of rotation until it rises again: what is checked is where it routes then.
   */
  const servedNearest = async (api: RouterApi, url: string, region: string, remoteAddress?: string): Promise<LightMyRequestResponse> => {
    let last: LightMyRequestResponse | undefined;
    await expect.poll(async () => served((last = await get(api, url, {}, remoteAddress))), { timeout: 30_000, interval: 250 }).toEqual([200, region, 'nearest']);
    if (!last) throw new Error(`no answer for ${url}`);
    return last;
  };
  const regionOf = (api: RouterApi, region: string) => api.router.status().regions.find((r) => r.region === region);
  const summary = (samples: LoadSample[]): string => {
    const by = new Map<string, number>();
    for (const x of samples) {
      const key = `${x.status} ${x.region ?? '-'} ${x.reason ?? x.error ?? '-'}`;
      by.set(key, (by.get(key) ?? 0) + 1);
    }
    return [...by].map(([k, n]) => `${k}: ${n}`).join(', ');
  };

  it('sends each client region to its nearest region; the CIDR and lat/lon paths work; bad input is refused', async () => {
    const { a, b } = await setup();
    for (const api of [a, b]) {
      for (const region of ['us-east', 'eu-west', 'ap-southeast']) {
        const r = await servedNearest(api, `/search?q=kettle&region=${region}`, region);
        expect(Number(r.headers['x-freshness-ms'])).toBeLessThanOrEqual(REAL.freshnessBoundMs as number);
        expect(r.json<{ region: string }>().region).toBe(region);
      }
      await servedNearest(api, '/search?q=kettle', 'ap-southeast', '10.3.7.7');
      await servedNearest(api, '/search?q=kettle', 'eu-west', '2001:db8:2::5');
      await servedNearest(api, '/search?q=kettle&lat=-33.87&lon=151.21', 'ap-southeast');
      await servedNearest(api, '/search?q=kettle&lat=52.52&lon=13.40', 'eu-west');
      await servedNearest(api, '/search?q=kettle&lat=40.71&lon=-74.0', 'us-east');
      // No hint at all: the default region.
      await servedNearest(api, '/search?q=kettle', 'us-east');
    }
    const hits = await a.app.inject({ method: 'POST', url: '/search?region=eu-west', headers: { 'content-type': 'application/json' }, payload: { query: 'kettle', size: 10 } });
    expect(hits.statusCode, hits.body).toBe(200);
    await expect.poll(async () => (await get(a, '/search?q=kettle&size=10&region=eu-west')).json<{ total: number }>().total, { timeout: 30_000 }).toBe(3);

    const unknown = await get(a, '/search?q=x', { 'x-client-region': 'us-west' });
    expect(unknown.statusCode).toBe(400);
    expect(unknown.json<{ error: { message: string } }>().error.message).toBe('Unknown region "us-west". Valid regions: us-east, eu-west, ap-southeast.');
    expect((await get(a, '/search?q=x&lat=95&lon=10')).statusCode).toBe(400);
    const badQuery = await a.app.inject({ method: 'POST', url: '/search', headers: { 'content-type': 'application/json' }, payload: { size: -5 } });
    expect(badQuery.statusCode, badQuery.body).toBe(400);
    expect(badQuery.json()).toMatchObject({ error: { code: 'INVALID_ARGUMENT' } });
    expect(badQuery.headers['x-served-by-region']).toBe('us-east');
  });

  it('under steady load, fails over within 1 s with zero errors when a region\'s OpenSearch dies, and sends traffic back after it recovers', async () => {
    const { a, b, urlA, urlB } = await setup();
    // 80 searches/s in all: steady load, with headroom on a slower host. At 120/s and 1.2 cores
    // the in-process stacks fell behind (p50 7 s), and a router with another region ejected for
    // slowness may not eject a second one (max ejection 50 %), which is not what is under test.
    const loads = [routerLoad({ url: urlA, ratePerSec: 40 }), routerLoad({ url: urlB, ratePerSec: 40, headers: { 'x-client-region': 'us-east' } })];
    let samples: LoadSample[] = [];
    let tKill = 0;
    const movedMs: number[] = [];
    try {
      // us-east serves the load, promptly, before the kill: servers that just started (or an
      // OpenSearch restarted by an earlier test) warm up first, or a failover would be measured
      // on a system that cannot carry the load at all.
      const steady = (l: { samples: LoadSample[] } | undefined): boolean => {
        const last = l?.samples.slice(-40) ?? [];
        return last.length === 40 && last.every((x) => x.region === 'us-east' && x.reason === 'nearest' && x.doneAt - x.sentAt < 1_000);
      };
      const settled = (r: RouterApi): boolean => r.router.status().regions.every((x) => x.healthy && !x.ejected && x.phase === 'active');
      await expect.poll(() => steady(loads[0]) && steady(loads[1]) && settled(a) && settled(b), { timeout: 120_000, interval: 250, message: 'us-east did not serve the load promptly, with every region in rotation, before the fault' }).toBe(true);
      tKill = Date.now();
      await runtime.kill('us-east/opensearch');
      // Moved away: the moment each router stops offering us-east new searches (ejected or unhealthy).
      for (const r of [a, b]) {
        await expect.poll(() => !(regionOf(r, 'us-east')?.healthy ?? false) || (regionOf(r, 'us-east')?.ejected ?? false), { timeout: 5_000, interval: 5 }).toBe(true);
        movedMs.push(Date.now() - tKill);
      }
      await sleep(3_000);
      expect(regionOf(a, 'us-east')?.healthy).toBe(false);
      expect(regionOf(b, 'us-east')?.healthy).toBe(false);
    } finally {
      samples = (await Promise.all(loads.map((l) => l.stop()))).flat();
      await runtime.start('us-east/opensearch');
    }
    if (process.env['ROUTER_TEST_TIMELINE']) console.log(timeline(samples, tKill));
    const after = samples.filter((x) => x.sentAt >= tKill).sort((x, y) => x.doneAt - y.doneAt);
    const firstAway = after.find((x) => x.region === 'eu-west');
    const worst = Math.max(...after.map((x) => x.doneAt - x.sentAt));
    const before = samples.filter((x) => x.sentAt < tKill - 500);
    const p50Before = before.map((x) => x.doneAt - x.sentAt).sort((x, y) => x - y)[Math.floor(before.length / 2)];
    console.log(`[failover/opensearch] ${samples.length} searches at 80/s through 2 routers: ${summary(samples)}; routers stopped offering us-east ${movedMs.join(' / ')} ms after the kill; first answer from eu-west ${(firstAway?.doneAt ?? NaN) - tKill} ms after it; search latency p50 ${p50Before} ms before, slowest after ${worst} ms`);
    expect(samples.filter((x) => x.status !== 200)).toEqual([]);
    expect(Math.max(...movedMs)).toBeLessThan(1_000);
    // Away from us-east, to the next eligible region: eu-west, or ap-southeast for a search that
    // eu-west, suddenly carrying all the load on this shared machine, did not answer in time.
    const late = after.filter((x) => x.sentAt > tKill + 1_000);
    expect(late.filter((x) => x.region === 'us-east' || x.reason !== 'failover')).toEqual([]);
    expect(late.filter((x) => x.region === 'eu-west').length).toBeGreaterThan(late.length / 2);

    // Recovered: probes rise, slow start, then all of it again.
    await expect.poll(async () => served(await get(a, '/search?q=kettle')), { timeout: 60_000, interval: 250 }).toEqual([200, 'us-east', 'nearest']);
    await expect.poll(() => regionOf(b, 'us-east')?.phase, { timeout: 10_000, interval: 100 }).toBe('active');
    expect(a.router.status().failovers.some((f) => f.from === 'us-east' && f.to === 'eu-west')).toBe(true);
  });

  it('moves traffic away once a region whose Kafka brokers died passes the freshness bound, with zero errors', async () => {
    const bound = 8_000;
    const { a, b, urlA } = await setup({ freshnessBoundMs: bound });
    const load = routerLoad({ url: urlA, ratePerSec: 60 });
    let samples: LoadSample[] = [];
    let tKill = 0;
    let staleAfterMs = 0;
    try {
      await expect.poll(() => load.samples.slice(-40).every((x) => x.region === 'us-east' && x.reason === 'nearest') && load.samples.length >= 40, { timeout: 90_000, interval: 250 }).toBe(true);
      tKill = Date.now();
      await runtime.kill('us-east/kafka');
      await expect.poll(() => regionOf(a, 'us-east')?.fresh, { timeout: 30_000, interval: 50 }).toBe(false);
      staleAfterMs = Date.now() - tKill;
      expect(regionOf(a, 'us-east')?.healthy).toBe(true);
      await sleep(1_500);
      expect(regionOf(b, 'us-east')?.fresh).toBe(false);
    } finally {
      samples = await load.stop();
      await runtime.start('us-east/kafka');
      // Let the stacks' replicators and indexers reconnect before anything is torn down.
      // Not an assertion here (the one below is): a failure in `try` must not be masked.
      const deadline = Date.now() + 120_000;
      while (Date.now() < deadline && served(await get(a, '/search?q=kettle'))[2] !== 'nearest') await sleep(500);
    }
    if (process.env['ROUTER_TEST_TIMELINE']) console.log(timeline(samples, tKill));
    const moved = samples.filter((x) => x.sentAt >= tKill + staleAfterMs + 250);
    console.log(`[failover/kafka] ${samples.length} searches at 60/s: ${summary(samples)}; us-east passed the ${bound} ms bound ${staleAfterMs} ms after its brokers died`);
    expect(samples.filter((x) => x.status !== 200)).toEqual([]);
    expect(moved.length).toBeGreaterThan(0);
    // Away from us-east for good. The others fall behind us-east too (its heartbeats stop reaching
    // them), so once they pass the bound as well the least stale one serves, marked stale.
    expect(moved.every((x) => x.region !== 'us-east' && (x.reason === 'failover' || x.reason === 'stale'))).toBe(true);
    // The freshness it reports grows from the last heartbeat it saw, so it passes the bound within the bound's time.
    expect(staleAfterMs).toBeLessThan(bound + 2_000);

    // Brokers back: the indexer caught up, freshness fell under the bound, traffic returned.
    expect(served(await get(a, '/search?q=kettle'))).toEqual([200, 'us-east', 'nearest']);
  });

  it('drains through router A: router B stops sending there within 1 s with zero errors; undrain waits for the catch-up gate', async () => {
    const { s, a, b, urlB } = await setup();
    const auth = { authorization: `Bearer ${s.deployment.admin.token}` };
    const load = routerLoad({ url: urlB, ratePerSec: 50, headers: { 'x-client-region': 'ap-southeast' } });
    let samples: LoadSample[] = [];
    let tDrain = 0;
    let seenMs = 0;
    try {
      await sleep(1_000);
      tDrain = Date.now();
      const res = await a.app.inject({ method: 'POST', url: '/admin/regions/ap-southeast/drain', headers: auth, payload: { reason: 'opensearch upgrade', by: 'test' } });
      expect(res.statusCode, res.body).toBe(202);
      await expect.poll(() => regionOf(b, 'ap-southeast')?.phase, { timeout: 1_000, interval: 5 }).toBe('drained');
      seenMs = Date.now() - tDrain;
      await sleep(2_000);
    } finally {
      samples = await load.stop();
    }
    const late = samples.filter((x) => x.sentAt > tDrain + seenMs);
    console.log(`[drain] router B drained ap-southeast ${seenMs} ms after the call to router A; ${samples.length} searches: ${summary(samples)}`);
    expect(seenMs).toBeLessThan(1_000);
    expect(samples.filter((x) => x.status !== 200)).toEqual([]);
    expect(late.length).toBeGreaterThan(0);
    expect(late.every((x) => x.region === 'eu-west' && x.reason === 'drained')).toBe(true);
    expect(regionOf(b, 'ap-southeast')?.inFlight).toBe(0);

    const phases: string[] = [];
    const undrain = await b.app.inject({ method: 'POST', url: '/admin/regions/ap-southeast/undrain', headers: auth, payload: { reason: 'done' } });
    expect(undrain.statusCode).toBe(202);
    const t0 = Date.now();
    while (Date.now() - t0 < 10_000) {
      const p = regionOf(a, 'ap-southeast')?.phase ?? '';
      if (phases[phases.length - 1] !== p) phases.push(p);
      if (p === 'active') break;
      await sleep(20);
    }
    // Healthy and fresh already, so the gate opens at once, then the slow-start ramp.
    expect(phases).toContain('ramping');
    expect(phases[phases.length - 1]).toBe('active');
    expect(served(await get(a, '/search?q=kettle&region=ap-southeast'))).toEqual([200, 'ap-southeast', 'nearest']);
  });

  it('serves a query answered before from Redis, marked stale with its age, while every region\'s search is down; retries stay within budget', async () => {
    const { a } = await setup();
    const first = await get(a, '/search?q=kettle&size=5');
    expect(served(first)).toEqual([200, 'us-east', 'nearest']);
    await sleep(500);
    const paused = ['us-east/opensearch', 'eu-west/opensearch', 'ap-southeast/opensearch'];
    try {
      for (const p of paused) await runtime.pause(p);
      const t0 = Date.now();
      const cached = await get(a, '/search?size=5&q=kettle');
      const tookMs = Date.now() - t0;
      console.log(`[serve-stale] answered from the cache in ${tookMs} ms with every OpenSearch paused`);
      expect(served(cached)).toEqual([200, 'us-east', 'cache']);
      expect(cached.headers['x-stale']).toBe('true');
      expect(Number(cached.headers['x-cache-age-ms'])).toBeGreaterThanOrEqual(500);
      expect(cached.body).toBe(first.body);
      expect(tookMs).toBeLessThan((REAL.deadlineMs as number) + 1_000);
      const never = await get(a, '/search?q=never-asked-before');
      expect(never.statusCode).toBe(503);
      expect(never.headers['retry-after']).toBe('1');
      for (let i = 0; i < 20; i++) await get(a, `/search?q=storm-${i}`);
      const budget = a.router.status().budgets.retry;
      expect(budget.used).toBeLessThanOrEqual(budget.allowed);
    } finally {
      for (const p of paused) await runtime.resume(p);
    }
    await expect.poll(async () => served(await get(a, '/search?q=kettle')), { timeout: 30_000, interval: 250 }).toEqual([200, 'us-east', 'nearest']);
  });
});
