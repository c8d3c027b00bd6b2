import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../../core/logger.ts';
import { buildSearchApi } from '../../../services/search/search-api.ts';
import type { SearchResponseBody } from '../../../services/search/search-api.ts';
import { useRegionStacks } from '../../support/region-stack.ts';
import { testRuntime } from '../../support/regions.ts';

const REGION = 'eu-west';
const log = createLogger({ name: 'test-search', level: process.env['TEST_LOG_LEVEL'] ?? 'warn' });

describe('regional search endpoint', () => {
  const runtime = testRuntime();
  const stacks = useRegionStacks(runtime);

  async function get(url: string): Promise<{ status: number; headers: Headers; body: Record<string, unknown> }> {
    const res = await fetch(url);
    return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
  }

  it('serves GET and POST searches over live documents only, naming the region and its freshness per source', async () => {
    const s = await stacks({ regions: [REGION] });
    const base = s.regions[REGION]?.searchUrl ?? '';
    const kenya = await s.put(REGION, 'kenya', { seq: 1, title: 'Kenya AA', roast: 'light', price: 14, notes: 'blackcurrant and grapefruit' });
    const sumatra = await s.put(REGION, 'sumatra', { seq: 2, title: 'Sumatra Mandheling', roast: 'dark', price: 11, notes: 'cedar and dark chocolate' });
    await s.put(REGION, 'brazil', { seq: 3, title: 'Brazil Cerrado', roast: 'dark', price: 9, notes: 'nutty, milk chocolate' });
    await s.put(REGION, 'gone', { seq: 4, title: 'Discontinued chocolate blend', roast: 'dark', price: 5 });
    const deleted = await s.del(REGION, 'gone');
    const latest = await s.put(REGION, 'brazil', { seq: 3, title: 'Brazil Cerrado', roast: 'dark', price: 10, notes: 'nutty, milk chocolate' });

    // Every write is applied once its version is searchable. The documents' keys spread them over
    // partitions that the indexer applies independently, so each is waited for (in CI, brazil's
    // update was searchable while sumatra, written before it, was not yet).
    const live = async (): Promise<Record<string, string | undefined>> => {
      const v = await s.liveVersions(REGION);
      return { kenya: v.get('kenya'), sumatra: v.get('sumatra'), brazil: v.get('brazil'), gone: v.get('gone') };
    };
    await expect.poll(live, { timeout: 30_000 }).toEqual({ kenya: kenya.version, sumatra: sumatra.version, brazil: latest.version, gone: undefined });
    expect(BigInt(deleted.version)).toBeGreaterThan(0n);

    const simple = await get(`${base}/search?q=chocolate&size=10`);
    expect(simple.status).toBe(200);
    expect(simple.headers.get('x-served-by-region')).toBe(REGION);
    const body = simple.body as unknown as SearchResponseBody;
    expect(body.region).toBe(REGION);
    expect(body.hits.map((h) => h.id).sort()).toEqual(['brazil', 'sumatra']);
    const brazil = body.hits.find((h) => h.id === 'brazil');
    expect(brazil).toMatchObject({ version: latest.version, origin: REGION, document: { title: 'Brazil Cerrado', price: 10 } });
    expect(Object.keys(brazil?.document ?? {}).some((k) => k.startsWith('_'))).toBe(false);
    expect(Object.keys(body.freshness).sort()).toEqual(Object.keys(runtime.deployment.regions).sort());
    expect(body.freshness[REGION]).toEqual(expect.any(Number));

    const filtered = await s.query(REGION, { filters: { roast: 'dark', price: [9, 10, 11] }, sort: [{ field: 'price', order: 'desc' }] });
    expect(filtered.status).toBe(200);
    expect(filtered.body.hits.map((h) => h.id)).toEqual(['sumatra', 'brazil']);
    expect(filtered.body.total).toBe(2);

    const matched = await s.query(REGION, { match: { notes: 'grapefruit' } });
    expect(matched.body.hits.map((h) => h.id)).toEqual(['kenya']);

    const byTitle = await s.query(REGION, { query: 'kenya | brazil', fields: ['title'], sort: [{ field: 'title' }] });
    expect(byTitle.status, JSON.stringify(byTitle.body)).toBe(200);
    expect(byTitle.body.hits.map((h) => h.id)).toEqual(['brazil', 'kenya']);

    const paged = await s.query(REGION, { sort: [{ field: 'seq' }], size: 1, from: 1 });
    expect(paged.body.hits.map((h) => h.id)).toEqual(['sumatra']);
    expect(paged.body.total).toBe(3);

    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/georeplica_search_requests_total\{method="POST",outcome="ok"\} \d+/);
    expect(metrics).toMatch(/georeplica_search_dependency_up\{dependency="opensearch"\} 1/);
  });

  it('refuses bad queries with 400 naming the field and the rule, never an OpenSearch trace', async () => {
    const s = await stacks({ regions: [REGION] });
    const base = s.regions[REGION]?.searchUrl ?? '';
    await s.put(REGION, 'one', { seq: 1, title: 'One', notes: 'free text', price: 3 });
    await expect.poll(async () => (await s.liveVersions(REGION)).size, { timeout: 30_000 }).toBe(1);

    const post = (body: string, type = 'application/json'): Promise<Response> => fetch(`${base}/search`, { method: 'POST', headers: { 'content-type': type }, body });
    const cases: Array<[string, () => Promise<Response>, string]> = [
      ['size over 100', () => fetch(`${base}/search?q=x&size=500`), 'size: got 500; expected size ≤ 100'],
      ['size not a number', () => fetch(`${base}/search?size=ten`), 'size: got "ten"; expected size to be an integer 0-100'],
      ['deep page', () => fetch(`${base}/search?from=9999&size=10`), 'from: got 9999; expected from + size ≤ 10000'],
      ['unknown parameter', () => fetch(`${base}/search?q=x&sort=title`), 'sort: got "title"; expected one of the parameters q, size, from'],
      ['not JSON', () => post('{"query": '), 'Body is not valid JSON'],
      ['wrong content type', () => post('query=x', 'application/x-www-form-urlencoded'), 'content-type: got "application/x-www-form-urlencoded"; expected "application/json" for POST /search'],
      ['an array', () => post('[]'), '(body): got "an array"; expected a JSON object'],
      ['unknown key', () => post('{"aggs": {}}'), 'aggs: got {}; no key "aggs": allowed are query, fields, match, filters, sort, size, from'],
      ['bookkeeping field', () => post('{"filters": {"_georeplica_deleted": true}}'), 'filters._georeplica_deleted: got true; expected a document field name'],
      ['bad sort order', () => post('{"sort": [{"field": "price", "order": "up"}]}'), 'sort.0.order: got "up"; expected "asc" or "desc"'],
      ['number field, text value', () => post('{"filters": {"price": "cheap"}}'), '(query): expected a query the index accepts; OpenSearch refused it: '],
    ];
    const rows: string[] = [];
    for (const [name, call, expected] of cases) {
      const res = await call();
      const body = (await res.json()) as { error?: { code: string; message: string } };
      rows.push(`${name}: ${res.status} ${body.error?.code ?? '-'} ${body.error?.message.split('\n').slice(1).join(' ') ?? ''}`);
      expect(res.status, name).toBe(400);
      expect(body.error?.code, name).toBe('INVALID_ARGUMENT');
      expect(body.error?.message, name).toContain(expected);
      expect(body.error?.message, name).not.toMatch(/\bat [A-Za-z.]+\(|Exception:|\.java:/);
    }
    console.log(`[search] bad requests:\n  ${rows.join('\n  ')}`);
  });

  it('reports health from background probes: degraded without its indexer, down (503) without OpenSearch, where searches get 503 with Retry-After', async () => {
    const deployment = runtime.deployment;
    const noIndexer = await buildSearchApi({ deployment, region: REGION, log, index: 'never-created', indexer: { report: () => Promise.reject(new Error('connection refused')) } });
    try {
      const h = await noIndexer.app.inject({ method: 'GET', url: '/health' });
      expect(h.statusCode).toBe(200);
      expect(h.json()).toMatchObject({ region: REGION, status: 'degraded', search: { ok: true }, kafka: { ok: true }, indexer: { ok: false, state: 'unreachable', error: 'connection refused' }, maxFreshnessMs: null });
      // A missing index is an empty result, not an error.
      const empty = await noIndexer.app.inject({ method: 'GET', url: '/search?q=anything' });
      expect(empty.statusCode).toBe(200);
      expect(empty.json()).toMatchObject({ total: 0, hits: [] });
      expect(empty.headers['x-freshness-ms']).toBeUndefined();
    } finally {
      await noIndexer.close();
    }

    const noSearch = await buildSearchApi({ deployment, region: REGION, log, searchUrl: 'http://127.0.0.1:1', retryAfterSec: 3, indexer: { report: () => Promise.reject(new Error('down')) } });
    try {
      const h = await noSearch.app.inject({ method: 'GET', url: '/health' });
      expect(h.statusCode).toBe(503);
      expect(h.json()).toMatchObject({ status: 'down', search: { ok: false, status: 'unreachable' } });
      const res = await noSearch.app.inject({ method: 'GET', url: '/search?q=x' });
      expect(res.statusCode).toBe(503);
      expect(res.headers['retry-after']).toBe('3');
      expect(res.json()).toMatchObject({ error: { code: 'SEARCH_UNAVAILABLE' } });
      // Health is answered from memory: a hundred probes cost nothing behind the endpoint.
      const t0 = Date.now();
      for (let i = 0; i < 100; i++) expect((await noSearch.app.inject({ method: 'GET', url: '/health' })).statusCode).toBe(503);
      console.log(`[search] 100 /health answers in ${Date.now() - t0} ms`);
    } finally {
      await noSearch.close();
    }
  });

  it('sheds searches past maxInFlight at once with 503, and gives up on one when the caller\'s X-Request-Timeout-Ms passes', async () => {
    // A search node that accepts connections and never answers: a hung OpenSearch.
    const sockets = new Set<Socket>();
    const hung: Server = createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve) => hung.listen(0, '127.0.0.1', resolve));
    const address = hung.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    const api = await buildSearchApi({ deployment: runtime.deployment, region: REGION, log, searchUrl: `http://127.0.0.1:${port}`, maxInFlight: 2, healthIntervalMs: 60_000, indexer: { report: () => Promise.reject(new Error('none')) } });
    try {
      const search = (timeoutMs: number) => api.app.inject({ method: 'GET', url: '/search?q=x', headers: { 'x-request-timeout-ms': String(timeoutMs) } });
      const t0 = Date.now();
      const slow = [search(2_000), search(2_000)];
      await expect.poll(() => sockets.size, { timeout: 5_000, interval: 10 }).toBeGreaterThanOrEqual(2);
      const tShed = Date.now();
      const shed = await search(2_000);
      // At once: not after the 2 s the caller would wait.
      expect(Date.now() - tShed).toBeLessThan(500);
      expect(shed.statusCode).toBe(503);
      expect(shed.json()).toMatchObject({ error: { code: 'SEARCH_OVERLOADED', details: { inFlight: 2, maxInFlight: 2 } } });
      expect(shed.headers['retry-after']).toBeDefined();
      // The two in flight give up when their caller stops waiting (2 s), not after the endpoint's own 5 s.
      for (const res of await Promise.all(slow)) {
        expect(res.statusCode).toBe(503);
        expect(res.json()).toMatchObject({ error: { code: 'SEARCH_UNAVAILABLE' } });
      }
      expect(Date.now() - t0).toBeGreaterThanOrEqual(2_000);
      expect(Date.now() - t0).toBeLessThan(4_500);
      const metrics = await api.app.inject({ method: 'GET', url: '/metrics' });
      expect(metrics.body).toMatch(/georeplica_search_shed_requests_total 1/);
    } finally {
      await api.close();
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => hung.close(resolve));
    }
  });
});
