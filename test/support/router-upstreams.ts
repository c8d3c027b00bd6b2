/**
 * Small search endpoints that follow the regional search contract (services/search) and whose
 * faults a test controls: 5xx, hang, slow answers, refused connections, stale or unknown
 * freshness, a failing health check. For router tests of outlier detection, retries and
 * hedging; the tests over the real regions use the real search endpoints.
 */
import { fastify } from 'fastify';
import type { FastifyInstance } from 'fastify';
import { afterEach } from 'vitest';
import type { Deployment } from '../../config/schema.ts';
import { sleep } from '../../core/retry.ts';

export type FakeMode = 'ok' | 'error' | 'hang' | 'slow';

export interface FakeRegion {
  readonly region: string;
  port: number;
  /** How searches are answered. */
  mode: FakeMode;
  /** Delay of 'slow' answers. */
  slowMs: number;
  /** Freshness per source reported by /health and searches; null = unknown. */
  freshnessMs: number | null;
  /** /health answers 503 "down" when false. */
  healthy: boolean;
  /** Searches received (all modes). */
  searches: number;
  /** The last query string and body received. */
  last: { url: string; body: unknown } | undefined;
  /** Stops listening (connections refused) until start(). */
  stop(): Promise<void>;
  start(): Promise<void>;
}

export function useFakeRegions(deployment: Readonly<Deployment>): {
  start(): Promise<Record<string, FakeRegion>>;
  endpoints(regions: Record<string, FakeRegion>): Record<string, { host: string; port: number }>;
} {
  const apps: FastifyInstance[] = [];
  afterEach(async () => {
    await Promise.all(apps.splice(0).map((a) => a.close()));
  });
  return {
    async start() {
      const out: Record<string, FakeRegion> = {};
      const names = Object.keys(deployment.regions);
      for (const region of names) {
        const f = await fakeRegion(region, names, apps);
        out[region] = f;
      }
      return out;
    },
    endpoints(regions) {
      return Object.fromEntries(Object.values(regions).map((f) => [f.region, { host: '127.0.0.1', port: f.port }]));
    },
  };
}

async function fakeRegion(region: string, sources: readonly string[], apps: FastifyInstance[]): Promise<FakeRegion> {
  let app: FastifyInstance | undefined;
  const state: FakeRegion = {
    region,
    port: 0,
    mode: 'ok',
    slowMs: 200,
    freshnessMs: 50,
    healthy: true,
    searches: 0,
    last: undefined,
    async stop() {
      const a = app;
      app = undefined;
      if (a) {
        apps.splice(apps.indexOf(a), 1);
        await a.close();
      }
    },
    async start() {
      app = build();
      apps.push(app);
      await app.listen({ host: '127.0.0.1', port: state.port });
      const address = app.server.address();
      if (address !== null && typeof address === 'object') state.port = address.port;
    },
  };
  const freshness = (): Record<string, number | null> => Object.fromEntries(sources.map((s) => [s, s === region ? (state.freshnessMs === null ? null : 0) : state.freshnessMs]));
  const build = (): FastifyInstance => {
    const a = fastify({ forceCloseConnections: true });
    const answer = async (url: string, body: unknown) => {
      state.searches++;
      state.last = { url, body };
      if (state.mode === 'error') return { status: 503, body: { error: { code: 'SEARCH_UNAVAILABLE', message: 'down', details: {} } } };
      if (state.mode === 'hang') await sleep(60_000);
      if (state.mode === 'slow') await sleep(state.slowMs);
      if (url.includes('q=bad')) return { status: 400, body: { error: { code: 'INVALID_ARGUMENT', message: 'bad query', details: { field: 'q' } } } };
      const f = freshness();
      return { status: 200, body: { region, took: 1, total: 1, hits: [{ id: 'doc-1', version: '1', origin: region, score: 1, document: { title: 'kettle' } }], freshness: f, maxFreshnessMs: state.freshnessMs } };
    };
    for (const method of ['GET', 'POST'] as const) {
      a.route({
        method,
        url: '/search',
        handler: async (request, reply) => {
          const r = await answer(request.url, request.body);
          void reply.code(r.status).header('x-served-by-region', region);
          if (r.status === 200 && state.freshnessMs !== null) void reply.header('x-freshness-ms', String(state.freshnessMs));
          return r.body;
        },
      });
    }
    a.get('/health', (_request, reply) => {
      const status = state.healthy ? 'ok' : 'down';
      return reply.code(state.healthy ? 200 : 503).send({ region, status, search: { ok: state.healthy, status: state.healthy ? 'green' : 'unreachable' }, kafka: { ok: true }, indexer: { ok: true }, freshness: freshness(), maxFreshnessMs: state.freshnessMs });
    });
    return a;
  };
  await state.start();
  return state;
}
