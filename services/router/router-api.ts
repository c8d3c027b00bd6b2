/**
 * The router's HTTP API (fastify):
 *
 *   GET  /search?q=&size=&from=[&region=R|&lat=&lon=]   routed to a region; headers X-Served-By-Region,
 *   POST /search  (JSON body, passed through)           X-Route-Reason, X-Freshness-Ms (+ X-Stale, Age)
 *   GET  /                                   status page (HTML, reloads itself)
 *   GET  /status                             the same as JSON (the drain CLI reads it)
 *   GET  /health                             the router itself: 200 while it runs
 *   GET  /metrics                            Prometheus text format
 *   POST /admin/regions/:region/drain        body { reason, by? }   (bearer token)
 *   POST /admin/regions/:region/undrain      body { reason?, by? }  (bearer token)
 *   GET  /admin/regions/:region/history      the region's drain records, oldest first (bearer token)
 *
 * Client region: `X-Client-Region` header or `region` parameter, else the client's address
 * (CIDR), else `X-Client-Country`, else `lat`/`lon`, else the default region. An unknown region
 * or bad coordinates are 400s; a query the region refuses comes back as the region's 400.
 * Closing the app stops the router (probes, pools, NATS watcher, Redis).
 */
import { fastify, LogController } from 'fastify';
import type { FastifyBaseLogger, FastifyInstance, FastifyRequest } from 'fastify';
import type { Deployment, RouterConfig } from '../../config/schema.ts';
import { bearerAuth } from '../../core/http/bearer-auth.ts';
import { installErrorHandler } from '../../core/http/error-handler.ts';
import type { Logger } from '../../core/logger.ts';
import { clientHints } from './client-hints.ts';
import type { DrainRecord } from './drain-record.ts';
import { GeoRouter } from './geo-router.ts';
import type { GeoRouterOptions } from './geo-router.ts';
import { RouterMetrics } from './router-metrics.ts';
import { renderStatusPage } from './status-page.ts';

export interface RouterApiOptions {
  deployment: Readonly<Deployment>;
  region: string;
  log: Logger;
  settings?: Readonly<RouterConfig>;
  endpoints?: GeoRouterOptions['endpoints'];
  metrics?: RouterMetrics;
  random?: () => number;
  /** Process metrics (CPU, memory, event loop) in /metrics; off by default, on in main.ts. */
  processMetrics?: boolean;
}

export interface RouterApi {
  readonly app: FastifyInstance;
  readonly router: GeoRouter;
  close(): Promise<void>;
}

interface RegionParams {
  region: string;
}
interface AdminBody {
  reason?: string;
  by?: string;
}

const SEARCH_BODY_LIMIT = 1024 * 1024;
const regionParams = { type: 'object', properties: { region: { type: 'string', minLength: 1, maxLength: 64 } }, required: ['region'], additionalProperties: false } as const;
const text = { type: 'string', minLength: 1, maxLength: 500 } as const;
const drainBody = { type: 'object', properties: { reason: text, by: { type: 'string', minLength: 1, maxLength: 200 } }, required: ['reason'], additionalProperties: false } as const;
const undrainBody = { type: 'object', properties: { reason: text, by: { type: 'string', minLength: 1, maxLength: 200 } }, additionalProperties: false } as const;

export async function buildRouterApi(o: RouterApiOptions): Promise<RouterApi> {
  const metrics = o.metrics ?? new RouterMetrics({ defaultMetrics: o.processMetrics === true });
  const router = new GeoRouter({ deployment: o.deployment, region: o.region, log: o.log, metrics, ...(o.settings ? { settings: o.settings } : {}), ...(o.endpoints ? { endpoints: o.endpoints } : {}), ...(o.random ? { random: o.random } : {}) });
  const log = o.log.child({ component: 'router-api', region: router.region, router: router.instance });
  const auth = bearerAuth({ token: o.deployment.admin.token, realm: 'georeplica-router' });
  const requestLog: FastifyBaseLogger = log;
  const app = fastify({
    loggerInstance: requestLog,
    // Searches arrive at thousands per second; per-request lines go to debug below.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: SEARCH_BODY_LIMIT,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false } },
  });
  installErrorHandler(app, { retryAfterSec: 1 });
  // Search bodies are passed through untouched, as bytes (the region validates them); admin
  // bodies are parsed by fastify's own JSON parser (prototype-poisoning checks included).
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    const raw = body as Buffer;
    if (request.routeOptions.url === '/search') done(null, raw);
    else if (raw.toString('utf8').trim() === '') done(null, {});
    else void parseJson(request, raw.toString('utf8'), done);
  });
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
  app.addHook('preValidation', (request, _reply, done) => {
    // An admin call without a body reads as {}, so its schema still applies.
    if (request.body === undefined && request.routeOptions.schema?.body !== undefined) request.body = {};
    done();
  });
  app.addHook('onResponse', (request, reply, done) => {
    request.log.debug({ method: request.method, url: request.url, statusCode: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'request completed');
    done();
  });
  app.addHook('onClose', async () => {
    await router.stop();
    log.info('router closed');
  });

  const search = async (request: FastifyRequest, method: 'GET' | 'POST') => {
    const params = new URLSearchParams(queryOf(request.url));
    const body = method === 'POST' ? bodyBuffer(request.body) : undefined;
    const contentType = request.headers['content-type'];
    return router.route({ method, params, body, contentType, hints: clientHints(request, params, router.settings.trustForwardedFor) });
  };
  for (const method of ['GET', 'POST'] as const) {
    app.route({
      method,
      url: '/search',
      handler: async (request, reply) => {
        const a = await search(request, method);
        return reply.code(a.status).headers(a.headers).type(a.contentType).send(a.body);
      },
    });
  }

  app.get('/', (_request, reply) => reply.type('text/html; charset=utf-8').header('cache-control', 'no-store').send(renderStatusPage(router.status())));
  app.get('/status', () => router.status());
  app.get('/health', () => ({ status: 'ok', region: router.region, instance: router.instance }));
  app.get('/metrics', async (_request, reply) => {
    metrics.observe(router.status());
    const body = await metrics.registry.metrics();
    return reply.type(metrics.registry.contentType).send(body);
  });

  const admin = async (request: FastifyRequest<{ Params: RegionParams; Body: AdminBody }>, state: DrainRecord['state']): Promise<DrainRecord> => {
    const { region } = request.params;
    const reason = request.body.reason ?? null;
    // Who: the operator the caller names (the CLI sends user@host) and the token's fingerprint, which cannot be forged.
    const by = `${request.body.by ?? 'unnamed'} (token ${auth.fingerprint}, from ${request.ip})`;
    const record = await router.drain(region, { by, reason }, state);
    log.warn({ action: state === 'drained' ? 'drain' : 'undrain', target: region, reason, by: request.body.by ?? null, token: auth.fingerprint, ip: request.ip }, state === 'drained' ? 'admin: region drained' : 'admin: region undrained');
    return record;
  };
  app.post<{ Params: RegionParams; Body: AdminBody }>('/admin/regions/:region/drain', { onRequest: auth.verify, schema: { params: regionParams, body: drainBody } }, async (request, reply) => reply.code(202).send(await admin(request, 'drained')));
  app.post<{ Params: RegionParams; Body: AdminBody }>('/admin/regions/:region/undrain', { onRequest: auth.verify, schema: { params: regionParams, body: undrainBody } }, async (request, reply) => reply.code(202).send(await admin(request, 'active')));
  app.get<{ Params: RegionParams }>('/admin/regions/:region/history', { onRequest: auth.verify, schema: { params: regionParams } }, (request) => router.drainHistory(request.params.region));

  try {
    await router.start();
  } catch (err) {
    await router.stop().catch(() => undefined);
    throw err;
  }
  await app.ready();
  return { app, router, close: () => app.close() };
}

function queryOf(url: string): string {
  const q = url.indexOf('?');
  return q < 0 ? '' : url.slice(q + 1);
}

/** Admin routes get their JSON parsed here; search bodies stay bytes. */
function bodyBuffer(body: unknown): Buffer | undefined {
  return Buffer.isBuffer(body) ? body : undefined;
}
