import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../core/logger.ts';
import { buildControlApi } from '../../../topology/link-proxy/control-api.ts';
import { noFaults } from '../../../topology/link-proxy/link-faults.ts';
import { LinkProxy } from '../../../topology/link-proxy/link-proxy.ts';

const TOKEN = 'a-test-token-of-some-length';

describe('link proxy control API', () => {
  const closers: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const c of closers.splice(0).reverse()) await c();
  });

  async function api(): Promise<{ proxy: LinkProxy; app: ReturnType<typeof buildControlApi> }> {
    const proxy = new LinkProxy({ name: 'us-east->eu-west', routes: [{ listen: { host: '127.0.0.1', port: 0 }, upstream: { host: '127.0.0.1', port: 1 } }], baseline: noFaults(38), log: silentLogger() });
    await proxy.start();
    closers.push(() => proxy.close());
    const app = buildControlApi({ proxy, token: TOKEN, log: silentLogger() });
    closers.push(() => app.close());
    return { proxy, app };
  }
  const auth = { authorization: `Bearer ${TOKEN}` };

  it('reads the faults and the baseline without a token', async () => {
    const { app } = await api();
    const res = await app.inject({ method: 'GET', url: '/faults' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ link: 'us-east->eu-west', faults: noFaults(38), baseline: noFaults(38), expiresAt: null });
    expect((await app.inject({ method: 'GET', url: '/health' })).json()).toMatchObject({ status: 'ok', link: 'us-east->eu-west', connections: 0 });
  });

  it('changes only the named faults, and DELETE goes back to the baseline', async () => {
    const { app, proxy } = await api();
    const res = await app.inject({ method: 'PATCH', url: '/faults', headers: auth, payload: { blackhole: true, bandwidthBytesPerSec: 1_048_576, reason: 'chaos' } });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ faults: { latencyMs: 38, blackhole: true, reset: false, bandwidthBytesPerSec: 1_048_576 } });
    expect(proxy.current().blackhole).toBe(true);
    const cleared = await app.inject({ method: 'DELETE', url: '/faults', headers: auth });
    expect(cleared.json()).toMatchObject({ faults: noFaults(38) });
  });

  it('a change with expiresInMs heals itself: back to the baseline after it, unless another change came first', async () => {
    const { app, proxy } = await api();
    const t0 = Date.now();
    const res = await app.inject({ method: 'PATCH', url: '/faults', headers: auth, payload: { blackhole: true, expiresInMs: 300, reason: 'chaos with a dead man switch' } });
    expect(res.statusCode, res.body).toBe(200);
    const expiresAt = Date.parse(res.json<{ expiresAt: string }>().expiresAt);
    expect(expiresAt - t0).toBeGreaterThanOrEqual(300);
    expect(proxy.current().blackhole).toBe(true);
    await expect.poll(() => proxy.current(), { timeout: 5_000, interval: 20 }).toEqual(noFaults(38));
    expect(Date.now() - t0).toBeGreaterThanOrEqual(300);
    expect((await app.inject({ method: 'GET', url: '/faults' })).json()).toMatchObject({ expiresAt: null });

    // A later change cancels the earlier expiry.
    await app.inject({ method: 'PATCH', url: '/faults', headers: auth, payload: { blackhole: true, expiresInMs: 200 } });
    await app.inject({ method: 'PATCH', url: '/faults', headers: auth, payload: { latencyMs: 100 } });
    await new Promise((r) => setTimeout(r, 400));
    expect(proxy.current()).toMatchObject({ blackhole: true, latencyMs: 100 });
    expect(proxy.expiresAt()).toBeUndefined();
    const bad = await app.inject({ method: 'PATCH', url: '/faults', headers: auth, payload: { blackhole: true, expiresInMs: 0 } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json<{ error: { message: string } }>().error.message).toContain('expiresInMs: got 0; expected at least 1 ms');
  });

  it('refuses changes without the token (401) or with a wrong one (403), and changes nothing', async () => {
    const { app, proxy } = await api();
    expect((await app.inject({ method: 'PATCH', url: '/faults', payload: { reset: true } })).statusCode).toBe(401);
    expect((await app.inject({ method: 'DELETE', url: '/faults', headers: { authorization: 'Bearer wrong-token-0123456789' } })).statusCode).toBe(403);
    expect(proxy.current()).toEqual(noFaults(38));
  });

  it('answers 400 naming each bad field, its value and the rule; unknown keys are refused', async () => {
    const { app } = await api();
    const res = await app.inject({ method: 'PATCH', url: '/faults', headers: auth, payload: { latencyMs: -5, blackhol: true, bandwidthBytesPerSec: 10 } });
    expect(res.statusCode).toBe(400);
    const message = res.json<{ error: { code: string; message: string } }>().error.message;
    expect(message).toContain('latencyMs: got -5; expected a latency ≥ 0 ms');
    expect(message).toContain('bandwidthBytesPerSec: got 10; expected at least 1024 bytes/s');
    expect(message).toContain('blackhol: got "blackhol"; expected no such key (did you mean "blackhole"?)');
  });
});
