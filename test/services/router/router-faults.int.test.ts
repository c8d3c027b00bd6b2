/**
 * The router against regional endpoints whose faults the test controls (test/support/router-upstreams.ts),
 * with the real NATS (drain state) and Redis (serve-stale cache): routing, failover, ejection,
 * budgets, hedging, staleness, the cache and bad input.
 */
import type { LightMyRequestResponse } from 'fastify';
import { describe, expect, it } from 'vitest';
import { sleep } from '../../../core/retry.ts';
import type { RouterApi } from '../../../services/router/router-api.ts';
import { testDeployment } from '../../setup/test-deployment.ts';
import { useRouters } from '../../support/router-fixture.ts';
import { useFakeRegions } from '../../support/router-upstreams.ts';
import type { FakeRegion } from '../../support/router-upstreams.ts';

const deployment = testDeployment();

describe('router over controllable regions', () => {
  const fakes = useFakeRegions(deployment);
  const routers = useRouters();

  async function setup(...settings: Parameters<typeof routers.build>[0]['settings'] & object): Promise<{ api: RouterApi; regions: Record<string, FakeRegion> }> {
    const regions = await fakes.start();
    const api = await routers.build({ deployment, region: 'us-east', endpoints: fakes.endpoints(regions), settings });
    return { api, regions };
  }

  const get = (api: RouterApi, url: string, headers: Record<string, string> = {}, remoteAddress?: string): Promise<LightMyRequestResponse> => api.app.inject({ method: 'GET', url, headers, ...(remoteAddress ? { remoteAddress } : {}) });
  const served = (r: LightMyRequestResponse): [number, string | undefined, string | undefined] => [r.statusCode, r.headers['x-served-by-region'] as string | undefined, r.headers['x-route-reason'] as string | undefined];
  const metric = async (api: RouterApi, name: string, labels: Record<string, string> = {}): Promise<number> => {
    api.router.metrics.observe(api.router.status());
    const m = await api.router.metrics.registry.getSingleMetric(name)?.get();
    return (m?.values ?? []).filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x)).reduce((n, v) => n + v.value, 0);
  };

  it('routes each client region to its nearest region, by header, parameter, CIDR, lat/lon and default', async () => {
    const { api, regions } = await setup();
    expect(served(await get(api, '/search?q=kettle'))).toEqual([200, 'us-east', 'nearest']);
    expect(served(await get(api, '/search?q=kettle', { 'x-client-region': 'ap-southeast' }))).toEqual([200, 'ap-southeast', 'nearest']);
    expect(served(await get(api, '/search?q=kettle&region=eu-west'))).toEqual([200, 'eu-west', 'nearest']);
    expect(served(await get(api, '/search?q=kettle', {}, '10.2.3.4'))).toEqual([200, 'eu-west', 'nearest']);
    expect(served(await get(api, '/search?q=kettle', {}, '203.0.113.9'))).toEqual([200, 'ap-southeast', 'nearest']);
    // Tokyo and Paris by coordinates.
    expect(served(await get(api, '/search?q=kettle&lat=35.68&lon=139.69'))).toEqual([200, 'ap-southeast', 'nearest']);
    expect(served(await get(api, '/search?q=kettle&lat=48.85&lon=2.35'))).toEqual([200, 'eu-west', 'nearest']);
    // The header beats the address.
    expect(served(await get(api, '/search?q=kettle', { 'x-client-region': 'us-east' }, '10.2.3.4'))).toEqual([200, 'us-east', 'nearest']);
    const r = await get(api, '/search?q=kettle&size=3&region=eu-west&from=1');
    expect(r.headers['x-freshness-ms']).toBe('50');
    expect(r.json()).toMatchObject({ region: 'eu-west', hits: [{ id: 'doc-1' }] });
    // Routing hints are not forwarded; the query is, unchanged.
    expect(regions['eu-west']?.last?.url).toBe('/search?q=kettle&size=3&from=1');

    const post = await api.app.inject({ method: 'POST', url: '/search?region=ap-southeast', headers: { 'content-type': 'application/json' }, payload: '{"query":"kettle","filters":{"tags":["a"]},"size":2}' });
    expect(served(post)).toEqual([200, 'ap-southeast', 'nearest']);
    expect(regions['ap-southeast']?.last).toEqual({ url: '/search', body: { query: 'kettle', filters: { tags: ['a'] }, size: 2 } });
  });

  it('refuses bad input with 400s naming the problem, and passes a region\'s 400 for a bad query through', async () => {
    const { api, regions } = await setup();
    const unknown = await get(api, '/search?q=x', { 'x-client-region': 'mars' });
    expect(unknown.statusCode).toBe(400);
    expect(unknown.json()).toMatchObject({ error: { code: 'UNKNOWN_REGION', details: { valid: ['us-east', 'eu-west', 'ap-southeast'] } } });
    expect(unknown.json<{ error: { message: string } }>().error.message).toContain('Valid regions: us-east, eu-west, ap-southeast.');
    expect((await get(api, '/search?q=x&region=mars')).statusCode).toBe(400);
    for (const q of ['lat=91&lon=0', 'lat=abc&lon=1', 'lat=10', 'lat=1&lon=0x10']) {
      const r = await get(api, `/search?q=x&${q}`);
      expect(r.statusCode, q).toBe(400);
      expect(r.json<{ error: { code: string } }>().error.code).toBe('INVALID_ARGUMENT');
    }
    const bad = await get(api, '/search?q=bad');
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ error: { code: 'INVALID_ARGUMENT', details: { field: 'q' } } });
    expect(bad.headers['x-served-by-region']).toBe('us-east');
    // A bad query is the client's fault: no retry elsewhere, no outlier count.
    expect(regions['eu-west']?.searches).toBe(0);
    expect(await metric(api, 'georeplica_router_retries_total')).toBe(0);
  });

  it('fails over on 5xx with no client-visible error, ejects the region, and brings it back after it recovers', async () => {
    const { api, regions } = await setup();
    const us = regions['us-east'] as FakeRegion;
    us.mode = 'error';
    for (let i = 0; i < 10; i++) expect(served(await get(api, '/search?q=kettle'))).toEqual([200, 'eu-west', 'failover']);
    // Three errors eject it: the later searches did not even try it.
    expect(us.searches).toBe(3);
    expect(await metric(api, 'georeplica_router_ejections_total', { region: 'us-east' })).toBe(1);
    expect(await metric(api, 'georeplica_router_failovers_total', { from: 'us-east', to: 'eu-west' })).toBe(10);
    expect(api.router.status().regions.find((r) => r.region === 'us-east')?.ejected).toBe(true);
    us.mode = 'ok';
    // Back after the 500 ms ejection, through a short slow-start ramp.
    await expect.poll(async () => served(await get(api, '/search?q=kettle'))[1], { timeout: 5_000, interval: 50 }).toBe('us-east');
    const failovers = api.router.status().failovers;
    expect(failovers[failovers.length - 1]).toMatchObject({ from: 'us-east', to: 'eu-west' });
  });

  it('fails over on a per-try timeout and on refused connections, within the deadline', async () => {
    const { api, regions } = await setup();
    const us = regions['us-east'] as FakeRegion;
    us.mode = 'hang';
    const t0 = Date.now();
    expect(served(await get(api, '/search?q=kettle'))).toEqual([200, 'eu-west', 'failover']);
    // One per-try timeout (1 s), then the next region.
    expect(Date.now() - t0).toBeLessThan(3_000);
    expect(await metric(api, 'georeplica_router_tries_total', { region: 'us-east', outcome: 'timeout' })).toBe(1);
    us.mode = 'ok';
    await us.stop();
    expect(served(await get(api, '/search?q=kettle'))).toEqual([200, 'eu-west', 'failover']);
    // The probes notice too: two failed probes make it unhealthy.
    await expect.poll(() => api.router.status().regions.find((r) => r.region === 'us-east')?.healthy, { timeout: 2_000 }).toBe(false);
    expect(served(await get(api, '/search?q=kettle'))).toEqual([200, 'eu-west', 'failover']);
    await us.start();
    await expect.poll(() => api.router.status().regions.find((r) => r.region === 'us-east')?.healthy, { timeout: 2_000 }).toBe(true);
  });

  it('moves traffic off a region past the freshness bound, and serves the least stale one (marked) when none is fresh', async () => {
    const { api, regions } = await setup({ freshnessBoundMs: 1_000 });
    (regions['us-east'] as FakeRegion).freshnessMs = 5_000;
    await expect.poll(async () => served(await get(api, '/search?q=kettle')), { timeout: 2_000, interval: 50 }).toEqual([200, 'eu-west', 'failover']);
    expect(await metric(api, 'georeplica_router_failovers_total', { cause: 'stale' })).toBeGreaterThan(0);
    (regions['eu-west'] as FakeRegion).freshnessMs = 9_000;
    (regions['ap-southeast'] as FakeRegion).freshnessMs = null;
    await expect.poll(async () => served(await get(api, '/search?q=kettle')), { timeout: 2_000, interval: 50 }).toEqual([200, 'us-east', 'stale']);
    const r = await get(api, '/search?q=kettle');
    expect(r.headers['x-stale']).toBe('true');
    expect(r.headers['x-freshness-ms']).toBe('5000');
  });

  it('serves the last good answer from Redis, marked with its age, when no region answers; 503 with Retry-After when there is none', async () => {
    const { api, regions } = await setup();
    const first = await get(api, '/search?size=2&q=teapot');
    expect(served(first)).toEqual([200, 'us-east', 'nearest']);
    await sleep(300); // the cache write is fire-and-forget
    for (const f of Object.values(regions)) f.mode = 'error';
    const cached = await get(api, '/search?q=teapot&size=2');
    expect(served(cached)).toEqual([200, 'us-east', 'cache']);
    expect(cached.headers['x-stale']).toBe('true');
    expect(Number(cached.headers['x-cache-age-ms'])).toBeGreaterThanOrEqual(300);
    expect(cached.headers['age']).toBe('0');
    expect(Number(cached.headers['x-freshness-ms'])).toBeGreaterThanOrEqual(350);
    expect(cached.body).toBe(first.body);
    const none = await get(api, '/search?q=never-asked');
    expect(none.statusCode).toBe(503);
    expect(none.headers['retry-after']).toBe('1');
    expect(none.json()).toMatchObject({ error: { code: 'SEARCH_UNAVAILABLE' } });
    expect(await metric(api, 'georeplica_router_cache_operations_total', { op: 'read', outcome: 'hit' })).toBe(1);
  });

  it('never ejects more than maxEjectionPercent of the regions, however many fail', async () => {
    const { api, regions } = await setup({ retryBudget: { ratio: 1, minPerSec: 100 } });
    for (const f of Object.values(regions)) f.mode = 'error';
    let most = 0;
    for (let i = 0; i < 30; i++) {
      expect((await get(api, `/search?q=everywhere-${i}`)).statusCode).toBe(503);
      most = Math.max(most, api.router.status().regions.filter((r) => r.ejected).length);
    }
    // 50 % of three regions: one at a time; the others keep being tried.
    expect(most).toBe(1);
    expect(await metric(api, 'georeplica_router_ejections_total')).toBeGreaterThanOrEqual(1);
  });

  it('never retries beyond the budget while every region fails', async () => {
    // Ejection off (errors never eject) so every search wants two retries; floor 0 to see the ratio alone.
    const { api, regions } = await setup({ outlier: { consecutiveErrors: 100 }, retryBudget: { ratio: 0.2, minPerSec: 0 } });
    for (const f of Object.values(regions)) f.mode = 'error';
    const statuses = new Map<number, number>();
    for (let i = 0; i < 50; i++) {
      const r = await get(api, `/search?q=storm-${i}`);
      statuses.set(r.statusCode, (statuses.get(r.statusCode) ?? 0) + 1);
    }
    expect(statuses).toEqual(new Map([[503, 50]]));
    const sent = await metric(api, 'georeplica_router_retries_total', { outcome: 'sent' });
    const denied = await metric(api, 'georeplica_router_retries_total', { outcome: 'denied' });
    const upstream = Object.values(regions).reduce((n, f) => n + f.searches, 0);
    console.log(`[budget] 50 searches, every region failing: ${sent} retries sent, ${denied} denied, ${upstream} upstream tries`);
    expect(sent).toBeLessThanOrEqual(Math.floor(0.2 * 50));
    expect(sent).toBeGreaterThan(0);
    expect(denied).toBeGreaterThan(0);
    expect(upstream).toBe(50 + sent);
    const b = api.router.status().budgets.retry;
    expect(b.used).toBeLessThanOrEqual(b.allowed);
  });

  it('hedges a slow primary after its p95, under the hedge budget, and the faster answer wins', async () => {
    const { api, regions } = await setup({ hedging: { enabled: true, ratio: 0.5, minPerSec: 0, minDelayMs: 20 }, perTryTimeoutMs: 1_000 });
    for (let i = 0; i < 30; i++) await get(api, `/search?q=warm-${i}`);
    const us = regions['us-east'] as FakeRegion;
    us.mode = 'slow';
    us.slowMs = 400;
    const t0 = Date.now();
    const r = await get(api, '/search?q=hedged');
    expect(served(r)).toEqual([200, 'eu-west', 'failover']);
    expect(Date.now() - t0).toBeLessThan(400);
    expect(await metric(api, 'georeplica_router_hedges_total', { outcome: 'won' })).toBe(1);
    // The budget (0.5 × 31 searches so far) bounds hedges as the slow spell goes on.
    for (let i = 0; i < 40; i++) await get(api, `/search?q=slow-${i}`);
    const sent = await metric(api, 'georeplica_router_hedges_total', { outcome: 'sent' });
    const b = api.router.status().budgets.hedge;
    // At most half of the 71 searches, however slow the primary stays.
    expect(sent).toBeLessThanOrEqual(Math.floor(0.5 * 71));
    expect(b.used).toBeLessThanOrEqual(b.allowed);
    expect(await metric(api, 'georeplica_router_hedges_total', { outcome: 'denied' })).toBeGreaterThan(0);
  });
});
