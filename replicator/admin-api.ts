/**
 * The replicator's admin HTTP API: health, full status, per-flow status, Prometheus metrics,
 * and pause/resume of one flow or of every flow touching a region. Reads are open; every
 * state change needs the admin bearer token and is logged with who (token fingerprint,
 * client IP) and why (the reason given).
 *
 *   GET  /health                           200 { status: ok|degraded, region, flows: { id: state } }
 *   GET  /status                           the Replicator's whole status
 *   GET  /flows/:source/:target            one flow's status (404 when this process does not run it)
 *   POST /flows/:source/:target/pause      body { reason? }   (bearer token)
 *   POST /flows/:source/:target/resume     body { reason? }   (bearer token)
 *   POST /regions/:region/pause            every flow touching the region (bearer token)
 *   POST /regions/:region/resume           (bearer token)
 *   GET  /metrics                          Prometheus text format
 *
 * The API does not own the Replicator: closing the server leaves replication running, and the
 * caller stops the Replicator itself.
 */
import { fastify, LogController } from 'fastify';
import type { FastifyBaseLogger, FastifyInstance, FastifyRequest } from 'fastify';
import { translateGroupOffsets } from './offset-translation.ts';
import { bearerAuth } from '../core/http/bearer-auth.ts';
import { installErrorHandler } from '../core/http/error-handler.ts';
import { optionalJsonBody } from '../core/http/optional-json-body.ts';
import { notFound } from '../core/http/refusal.ts';
import type { Logger } from '../core/logger.ts';
import type { Flow, FlowState } from './flow.ts';
import type { Replicator } from './replicator.ts';

export interface AdminApiOptions {
  replicator: Replicator;
  /** The admin bearer token (deployment `admin.token`). */
  token: string;
  log: Logger;
  /** Retry-After (seconds) on 503 answers. Default 5. */
  retryAfterSec?: number;
}

export interface HealthBody {
  status: 'ok' | 'degraded';
  region: string;
  flows: Record<string, FlowState>;
}

export interface ActionBody {
  action: 'pause' | 'resume';
  flows: Array<{ flow: string; state: FlowState; reason: string | undefined }>;
}

interface FlowParams {
  source: string;
  target: string;
}
interface RegionParams {
  region: string;
}
interface ActionRequestBody {
  reason?: string;
}

// Region names are checked against the deployment by the Replicator, whose error lists the valid ones.
const regionParam = { type: 'string', minLength: 1, maxLength: 64 } as const;
const flowParams = { type: 'object', properties: { source: regionParam, target: regionParam }, required: ['source', 'target'], additionalProperties: false } as const;
const regionParams = { type: 'object', properties: { region: regionParam }, required: ['region'], additionalProperties: false } as const;
const actionBody = { type: 'object', properties: { reason: { type: 'string', minLength: 1, maxLength: 500 } }, additionalProperties: false } as const;

const ACTIONS = ['pause', 'resume'] as const;
type Action = (typeof ACTIONS)[number];

export function buildAdminApi(o: AdminApiOptions): FastifyInstance {
  const { replicator } = o;
  const log = o.log.child({ component: 'admin-api', region: replicator.region });
  const auth = bearerAuth({ token: o.token, realm: 'georeplica-replicator' });
  // Typed as fastify's base logger so the instance is a plain FastifyInstance.
  const requestLog: FastifyBaseLogger = log;
  const app = fastify({
    loggerInstance: requestLog,
    // Probes and scrapes would flood the log at info; requests are logged at debug below.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 16 * 1024,
    // Reject unknown body keys instead of silently dropping them, and never coerce types.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false } },
  });
  installErrorHandler(app, o.retryAfterSec === undefined ? {} : { retryAfterSec: o.retryAfterSec });
  optionalJsonBody(app);
  app.addHook('onResponse', (request, reply, done) => {
    request.log.debug({ method: request.method, url: request.url, statusCode: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'request completed');
    done();
  });

  app.get('/health', (): HealthBody => {
    const flows = Object.fromEntries(replicator.status().flows.map((f) => [f.flow, f.state]));
    const degraded = Object.values(flows).some((s) => s !== 'running');
    return { status: degraded ? 'degraded' : 'ok', region: replicator.region, flows };
  });

  app.get('/status', () => replicator.status());

  app.get<{ Params: FlowParams }>('/flows/:source/:target', { schema: { params: flowParams } }, (request) => flowOf(request.params).status());

  for (const action of ACTIONS) {
    app.post<{ Params: FlowParams; Body: ActionRequestBody }>(`/flows/:source/:target/${action}`, { onRequest: auth.verify, schema: { params: flowParams, body: actionBody } }, (request) => {
      const flow = flowOf(request.params);
      return act(request, action, [flow], { flow: flow.id });
    });
    app.post<{ Params: RegionParams; Body: ActionRequestBody }>(`/regions/:region/${action}`, { onRequest: auth.verify, schema: { params: regionParams, body: actionBody } }, (request) => {
      const { region } = request.params;
      return act(request, action, replicator.flowsTouching(region), { region });
    });
  }

  // Read-only: translating reads offsets; committing them stays with the CLI (`translate --apply`).
  app.get<{ Querystring: { group: string; from: string; to?: string; topic?: string } }>(
    '/translate',
    { schema: { querystring: { type: 'object', additionalProperties: false, required: ['group', 'from'], properties: { group: { type: 'string', minLength: 1 }, from: { type: 'string', minLength: 1 }, to: { type: 'string', minLength: 1 }, topic: { type: 'string', minLength: 1 } } } } },
    (request) => {
      const q = request.query;
      return translateGroupOffsets({ deployment: replicator.deployment, group: q.group, from: q.from, to: q.to ?? replicator.region, topics: q.topic === undefined ? undefined : [q.topic], log });
    },
  );

  app.get('/metrics', async (_request, reply) => {
    const registry = replicator.metrics.registry;
    const text = await registry.metrics();
    return reply.type(registry.contentType).send(text);
  });

  app.addHook('onClose', (_instance, done) => {
    // The API holds nothing but its server (closed by fastify); the Replicator belongs to the caller.
    log.info('admin API closed');
    done();
  });

  return app;

  function flowOf(p: FlowParams): Flow {
    replicator.assertRegion(p.source);
    replicator.assertRegion(p.target);
    const flow = replicator.findFlow(p.source, p.target);
    if (!flow) throw notFound(`This replicator does not run the flow ${p.source}->${p.target} (it runs: ${replicator.flowIds().join(', ') || 'none'}).`, { source: p.source, target: p.target, flows: replicator.flowIds() });
    return flow;
  }

  /** `scope` is what the caller named (nested, so its `region` does not clash with the logger's own). */
  function act(request: FastifyRequest<{ Body: ActionRequestBody }>, action: Action, flows: readonly Flow[], scope: { flow: string } | { region: string }): ActionBody {
    const reason = request.body.reason;
    for (const f of flows) {
      if (action === 'pause') f.pause(reason);
      else f.resume();
    }
    request.log.info({ action, scope, flows: flows.map((f) => f.id), actor: { token: auth.fingerprint, ip: request.ip }, reason }, `admin ${action}`);
    return {
      action,
      flows: flows.map((f) => {
        const s = f.status();
        return { flow: s.flow, state: s.state, reason: s.reason };
      }),
    };
  }
}
