/**
 * The indexer's own small HTTP API, on the region's `ports.indexer`:
 *
 *   GET /health    200 while consuming (starting or running), 503 otherwise; body = status
 *   GET /status    the full status: state, pauses, counts, freshness per source region
 *   GET /metrics   Prometheus text format
 *
 * The search endpoint reads /status for the freshness it reports; operators and the runtime
 * read /health. The API only reads the indexer: closing it leaves the indexer running.
 */
import { fastify, LogController } from 'fastify';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import { installErrorHandler } from '../../core/http/error-handler.ts';
import type { Logger } from '../../core/logger.ts';
import type { Indexer } from './indexer.ts';

export async function buildIndexerStatusApi(o: { indexer: Indexer; log: Logger }): Promise<FastifyInstance> {
  const requestLog: FastifyBaseLogger = o.log.child({ component: 'indexer-status-api' });
  const app = fastify({ loggerInstance: requestLog, logController: new LogController({ disableRequestLogging: true }) });
  installErrorHandler(app);
  app.get('/health', (_request, reply) => {
    const s = o.indexer.status();
    return reply.code(s.state === 'running' || s.state === 'starting' ? 200 : 503).send(s);
  });
  app.get('/status', (_request, reply) => reply.send(o.indexer.status()));
  app.get('/metrics', async (_request, reply) => reply.type(o.indexer.metrics.registry.contentType).send(await o.indexer.metrics.registry.metrics()));
  await app.ready();
  return app;
}
