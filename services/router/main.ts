/**
 * The router process of one region: `node --import tsx services/router/main.ts --region us-east
 * [--config f] [--port N]`. It serves the router on the region's `ports.router` (or --port) on
 * 127.0.0.1. SIGTERM and SIGINT drain: the server stops taking requests and finishes the ones in
 * flight (their tries included), then probes, connection pools, the NATS watcher and the Redis
 * connection close, and the process exits 0 (1 when that takes longer than 30 s).
 */
import { parseServiceArgs } from '../../core/args.ts';
import { createLogger } from '../../core/logger.ts';
import { drainOnSignals, exitOnStartupFailure } from '../../core/process-lifecycle.ts';
import { buildRouterApi } from './router-api.ts';

const DRAIN_LIMIT_MS = 30_000;

async function main(): Promise<void> {
  const { region, deployment, port } = parseServiceArgs('router');
  const log = createLogger({ name: 'router' });
  const api = await buildRouterApi({ deployment, region, log, processMetrics: true });
  await api.app.listen({ port, host: '127.0.0.1' });
  log.info({ region, port }, 'router listening');

  drainOnSignals({
    log,
    limitMs: DRAIN_LIMIT_MS,
    // Closing the app waits for searches in flight, then its onClose hook stops the router.
    drain: () => api.close(),
  });
}

main().catch(exitOnStartupFailure('router'));
