/**
 * The ingest process of one region: `node --import tsx services/ingest/main.ts --region us-east
 * [--config f] [--port N]`. It serves the ingest API on the region's `ports.ingest` (or --port)
 * on 127.0.0.1. SIGTERM and SIGINT drain: the server stops taking requests and finishes the ones
 * in flight, the producer flushes what Kafka has not acknowledged yet and disconnects, then the
 * process exits 0 (1 when draining takes longer than 30 s).
 */
import { parseServiceArgs } from '../../core/args.ts';
import { createLogger } from '../../core/logger.ts';
import { drainOnSignals, exitOnStartupFailure } from '../../core/process-lifecycle.ts';
import { buildIngestApi } from './ingest-api.ts';

const DRAIN_LIMIT_MS = 30_000;

async function main(): Promise<void> {
  const { region, deployment, port } = parseServiceArgs('ingest');
  const log = createLogger({ name: 'ingest' });
  const api = await buildIngestApi({ deployment, region, log, processMetrics: true });
  await api.app.listen({ port, host: '127.0.0.1' });
  log.info({ region, port }, 'ingest API listening');

  drainOnSignals({
    log,
    limitMs: DRAIN_LIMIT_MS,
    // Closing the app waits for requests in flight, then its onClose hook flushes and disconnects the producer.
    drain: () => api.close(),
  });
}

main().catch(exitOnStartupFailure('ingest'));
