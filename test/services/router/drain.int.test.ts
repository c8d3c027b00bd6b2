/**
 * Drain and undrain across two routers sharing one NATS bucket, over controllable regions:
 * propagation within 1 s, zero errors while draining, in-flight requests finishing, the
 * catch-up gate and slow start, state surviving a router restart, admin auth, and the CLI.
 */
import type { LightMyRequestResponse } from 'fastify';
import { describe, expect, it } from 'vitest';
import { drainCommand } from '../../../cli/drain-command.ts';
import { silentLogger } from '../../../core/logger.ts';
import { sleep } from '../../../core/retry.ts';
import type { RouterApi } from '../../../services/router/router-api.ts';
import { testDeployment } from '../../setup/test-deployment.ts';
import { useRouters } from '../../support/router-fixture.ts';
import { useFakeRegions } from '../../support/router-upstreams.ts';
import type { FakeRegion } from '../../support/router-upstreams.ts';

const deployment = testDeployment();
const TOKEN = deployment.admin.token;
const auth = { authorization: `Bearer ${TOKEN}` };

describe('drain across routers', () => {
  const fakes = useFakeRegions(deployment);
  const routers = useRouters();

  const admin = (api: RouterApi, path: string, payload?: object, headers: Record<string, string> = auth): Promise<LightMyRequestResponse> => api.app.inject({ method: 'POST', url: `/admin/regions/${path}`, headers, ...(payload ? { payload } : {}) });
  const servedBy = async (api: RouterApi): Promise<[number, string | undefined, string | undefined]> => {
    const r = await api.app.inject({ method: 'GET', url: '/search?q=kettle' });
    return [r.statusCode, r.headers['x-served-by-region'] as string | undefined, r.headers['x-route-reason'] as string | undefined];
  };
  const regionOf = (api: RouterApi, region: string) => api.router.status().regions.find((r) => r.region === region);

  it('drains through router A; router B stops sending there within 1 s, with zero errors; in-flight searches finish', async () => {
    const regions = await fakes.start();
    const ns = routers.namespace();
    // Tries long enough for the slow in-flight search to finish where it went.
    const settings = [ns, { perTryTimeoutMs: 2_000, deadlineMs: 3_000 }];
    const a = await routers.build({ deployment, region: 'us-east', endpoints: fakes.endpoints(regions), settings });
    const b = await routers.build({ deployment, region: 'eu-west', endpoints: fakes.endpoints(regions), settings });
    const us = regions['us-east'] as FakeRegion;
    expect(await servedBy(b)).toEqual([200, 'us-east', 'nearest']);

    // Load on B throughout; one slow search is in flight to us-east when the drain lands.
    const errors: number[] = [];
    const byRegion = new Map<string, number>();
    let running = true;
    const load = (async () => {
      while (running) {
        const [status, region] = await servedBy(b);
        if (status !== 200) errors.push(status);
        byRegion.set(region ?? 'none', (byRegion.get(region ?? 'none') ?? 0) + 1);
        await sleep(5);
      }
    })();
    let searchesBefore = 0;
    try {
      us.mode = 'slow';
      us.slowMs = 600;
      const inFlight = b.app.inject({ method: 'GET', url: '/search?q=long' });
      await expect.poll(() => regionOf(b, 'us-east')?.inFlight, { timeout: 2_000, interval: 10 }).toBeGreaterThan(0);

      const t0 = Date.now();
      const res = await admin(a, 'us-east/drain', { reason: 'kernel upgrade', by: 'alice' });
      expect(res.statusCode, res.body).toBe(202);
      expect(res.json()).toMatchObject({ region: 'us-east', state: 'drained', reason: 'kernel upgrade' });
      expect(res.json<{ by: string }>().by).toMatch(/^alice \(token sha256:[0-9a-f]{12}, from /);
      await expect.poll(() => regionOf(b, 'us-east')?.phase, { timeout: 1_000, interval: 5 }).toBe('drained');
      const propagationMs = Date.now() - t0;
      console.log(`[drain] router B saw the drain after ${propagationMs} ms`);
      expect(propagationMs).toBeLessThan(1_000);

      // The search in flight when the drain landed finishes normally (and so does a search of
      // the load that was on its way to us-east at that moment).
      const finished = await inFlight;
      expect([finished.statusCode, finished.headers['x-served-by-region']]).toEqual([200, 'us-east']);
      await expect.poll(() => regionOf(b, 'us-east')?.inFlight, { timeout: 2_000, interval: 5 }).toBe(0);
      // From now on us-east gets nothing new.
      searchesBefore = us.searches;
      await sleep(300);
    } finally {
      running = false;
      await load;
    }
    expect(errors).toEqual([]);
    expect(us.searches).toBe(searchesBefore);
    expect(await servedBy(b)).toEqual([200, 'eu-west', 'drained']);
    expect(await servedBy(a)).toEqual([200, 'eu-west', 'drained']);
    expect(regionOf(b, 'us-east')?.inFlight).toBe(0);
  });

  it('undrains through the catch-up gate (healthy and fresh), then ramps up; the drain survives a router restart', async () => {
    const regions = await fakes.start();
    const ns = routers.namespace();
    const settings = [ns, { freshnessBoundMs: 1_000, slowStartMs: 1_500 }];
    const a = await routers.build({ deployment, region: 'us-east', endpoints: fakes.endpoints(regions), settings });
    const us = regions['us-east'] as FakeRegion;
    expect((await admin(a, 'us-east/drain', { reason: 'reindex' })).statusCode).toBe(202);
    await expect.poll(() => regionOf(a, 'us-east')?.phase, { timeout: 1_000, interval: 5 }).toBe('drained');

    // A router started now reads the drain from the bucket.
    await routers.close(a);
    const b = await routers.build({ deployment, region: 'us-east', endpoints: fakes.endpoints(regions), settings });
    expect(regionOf(b, 'us-east')?.phase).toBe('drained');
    expect(regionOf(b, 'us-east')?.drain).toMatchObject({ state: 'drained', reason: 'reindex' });
    expect(await servedBy(b)).toEqual([200, 'eu-west', 'drained']);

    // Undrained while behind: it waits at the gate and gets nothing.
    us.freshnessMs = 30_000;
    await sleep(200);
    expect((await admin(b, 'us-east/undrain', {})).statusCode).toBe(202);
    await expect.poll(() => regionOf(b, 'us-east')?.phase, { timeout: 1_000, interval: 5 }).toBe('catching-up');
    const before = us.searches;
    for (let i = 0; i < 20; i++) expect((await servedBy(b))[1]).toBe('eu-west');
    expect(us.searches).toBe(before);

    // Caught up: slow start, then its full share.
    us.freshnessMs = 100;
    await expect.poll(() => regionOf(b, 'us-east')?.phase, { timeout: 2_000, interval: 5 }).toBe('ramping');
    const served = new Map<string, number>();
    for (let i = 0; i < 40; i++) {
      const [, region, reason] = await servedBy(b);
      served.set(`${region}:${reason}`, (served.get(`${region}:${reason}`) ?? 0) + 1);
    }
    expect(served.get('eu-west:drained') ?? 0).toBeGreaterThan(0);
    await expect.poll(() => regionOf(b, 'us-east')?.phase, { timeout: 3_000, interval: 20 }).toBe('active');
    for (let i = 0; i < 10; i++) expect(await servedBy(b)).toEqual([200, 'us-east', 'nearest']);

    const history = await b.app.inject({ method: 'GET', url: '/admin/regions/us-east/history', headers: auth });
    expect(history.json<Array<{ state: string }>>().map((r) => r.state)).toEqual(['drained', 'active']);
  });

  it('needs the bearer token: 401 without, 403 when wrong; refuses unknown regions and a drain without a reason', async () => {
    const regions = await fakes.start();
    const a = await routers.build({ deployment, region: 'us-east', endpoints: fakes.endpoints(regions) });
    const none = await admin(a, 'us-east/drain', { reason: 'x' }, {});
    expect(none.statusCode).toBe(401);
    expect(none.headers['www-authenticate']).toContain('Bearer realm="georeplica-router"');
    expect((await admin(a, 'us-east/drain', { reason: 'x' }, { authorization: 'Bearer not-the-token-at-all' })).statusCode).toBe(403);
    expect((await admin(a, 'us-east/undrain', {}, { authorization: 'Basic abc' })).statusCode).toBe(401);
    expect((await a.app.inject({ method: 'GET', url: '/admin/regions/us-east/history' })).statusCode).toBe(401);
    const unknown = await admin(a, 'mars/drain', { reason: 'x' });
    expect(unknown.statusCode).toBe(400);
    expect(unknown.json()).toMatchObject({ error: { code: 'UNKNOWN_REGION', details: { valid: ['us-east', 'eu-west', 'ap-southeast'] } } });
    const noReason = await admin(a, 'us-east/drain', {});
    expect(noReason.statusCode).toBe(400);
    expect(noReason.json()).toMatchObject({ error: { code: 'INVALID_ARGUMENT', details: { field: 'reason' } } });
    expect((await admin(a, 'us-east/drain', { reason: 'x', extra: 1 })).statusCode).toBe(400);
    expect(regionOf(a, 'us-east')?.phase).toBe('active');
  });

  it('georeplica drain / undrain wait for the change to take effect and print progress', async () => {
    const regions = await fakes.start();
    const ns = routers.namespace();
    const a = await routers.build({ deployment, region: 'us-east', endpoints: fakes.endpoints(regions), settings: [ns, { slowStartMs: 500 }] });
    const b = await routers.build({ deployment, region: 'eu-west', endpoints: fakes.endpoints(regions), settings: [ns, { slowStartMs: 500 }] });
    const urls: string[] = [];
    for (const api of [a, b]) urls.push(await api.app.listen({ host: '127.0.0.1', port: 0 }));
    const lines: string[] = [];
    const flags = { router: urls, config: undefined, timeout: '20' };
    const code = await drainCommand('drain', 'eu-west', { ...flags, reason: 'kernel upgrade' }, silentLogger(), (l) => lines.push(l));
    expect(code, lines.join('\n')).toBe(0);
    expect(lines[0]).toBe(`Drained eu-west through ${urls[0]} (reason: kernel upgrade).`);
    expect(lines.some((l) => /^eu-west: drained on 2 routers; in flight 0; freshness \d+ ms \(bound \d+ ms\)$/.test(l))).toBe(true);
    expect(lines[lines.length - 1]).toBe('eu-west is drained: no router sends it searches and none is in flight.');
    expect(regionOf(b, 'eu-west')?.phase).toBe('drained');

    lines.length = 0;
    expect(await drainCommand('undrain', 'eu-west', flags, silentLogger(), (l) => lines.push(l))).toBe(0);
    expect(lines[lines.length - 1]).toBe('eu-west is back: every router sends it its full share.');
    expect(regionOf(a, 'eu-west')?.phase).toBe('active');

    await expect(drainCommand('drain', 'eu-west', { ...flags, reason: undefined }, silentLogger(), () => undefined)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(drainCommand('drain', 'mars', { ...flags, reason: 'x' }, silentLogger(), () => undefined)).rejects.toMatchObject({ code: 'UNKNOWN_REGION' });
  });
});
