/**
 * The HTTP control API of a link proxy process. Reads are open; changes need the admin bearer
 * token and are logged with who (token fingerprint, client IP) and why (`reason`).
 *
 *   GET    /health    200 { status: "ok", link, faults, connections }
 *   GET    /faults    { link, faults, baseline, expiresAt }
 *   PATCH  /faults    body: any of { latencyMs, blackhole, reset, bandwidthBytesPerSec, reason, expiresInMs }
 *   DELETE /faults    back to the baseline (the topology's latency, no other fault)
 *   GET    /metrics   Prometheus text format
 *
 * The API does not own the proxy: closing it leaves the proxy running.
 */
import { fastify, LogController } from 'fastify';
import type { FastifyBaseLogger, FastifyInstance, FastifyRequest } from 'fastify';
import { bearerAuth } from '../../core/http/bearer-auth.ts';
import { installErrorHandler } from '../../core/http/error-handler.ts';
import { optionalJsonBody } from '../../core/http/optional-json-body.ts';
import type { Logger } from '../../core/logger.ts';
import { parseStrict } from '../../core/strict-parse.ts';
import { LinkFaultsChangeSchema } from './link-faults.ts';
import type { LinkFaults } from './link-faults.ts';
import type { LinkProxy } from './link-proxy.ts';

export interface ControlApiOptions {
  proxy: LinkProxy;
  token: string;
  log: Logger;
}

export interface FaultsBody {
  link: string;
  faults: LinkFaults;
  baseline: LinkFaults;
  /** When the faults in force return to the baseline by themselves (ISO time), or null. */
  expiresAt: string | null;
}

export function buildControlApi(o: ControlApiOptions): FastifyInstance {
  const { proxy } = o;
  const log = o.log.child({ component: 'link-control', link: proxy.name });
  const auth = bearerAuth({ token: o.token, realm: 'georeplica-link' });
  const requestLog: FastifyBaseLogger = log;
  const app = fastify({ loggerInstance: requestLog, logController: new LogController({ disableRequestLogging: true }), bodyLimit: 16 * 1024 });
  installErrorHandler(app);
  optionalJsonBody(app);

  const body = (): FaultsBody => {
    const at = proxy.expiresAt();
    return { link: proxy.name, faults: { ...proxy.current() }, baseline: { ...proxy.baselineFaults() }, expiresAt: at === undefined ? null : new Date(at).toISOString() };
  };
  const actor = (request: FastifyRequest): Record<string, string> => ({ token: auth.fingerprint, ip: request.ip });

  app.get('/health', () => ({ status: 'ok', link: proxy.name, faults: proxy.current(), connections: proxy.connectionCount() }));
  app.get('/faults', body);
  // Validated by zod rather than fastify's schema, so problems read like every other edge's.
  app.patch('/faults', { onRequest: auth.verify }, (request) => {
    const change = parseStrict(LinkFaultsChangeSchema, request.body ?? {}, 'link fault change');
    proxy.change(change);
    request.log.info({ change, actor: actor(request) }, 'admin link change');
    return body();
  });
  app.delete('/faults', { onRequest: auth.verify }, (request) => {
    proxy.clear('cleared through the control API');
    request.log.info({ actor: actor(request) }, 'admin link clear');
    return body();
  });
  app.get('/metrics', async (_request, reply) => reply.type(proxy.metrics.registry.contentType).send(await proxy.metrics.registry.metrics()));
  return app;
}
