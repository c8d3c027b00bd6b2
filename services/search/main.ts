/**
 * The search endpoint of one region: `node --import tsx services/search/main.ts --region us-east
 * [--config f] [--port N]`. It serves the search API on the region's `ports.search` (or --port)
 * on 127.0.0.1, reading freshness from the region's indexer (`ports.indexer`). SIGTERM and
 * SIGINT drain: the server stops taking requests, answers the ones in flight, stops probing and
 * closes its OpenSearch client, then the process exits 0.
 */
import { parseServiceArgs } from '../../core/args.ts';
import { createLogger } from '../../core/logger.ts';
import { drainOnSignals, exitOnStartupFailure } from '../../core/process-lifecycle.ts';
import { buildSearchApi } from './search-api.ts';

async function main(): Promise<void> {
  const { region, deployment, port } = parseServiceArgs('search');
  const log = createLogger({ name: 'search' });
  const api = await buildSearchApi({ deployment, region, log, processMetrics: true });
  await api.app.listen({ port, host: '127.0.0.1' });
  log.info({ region, port }, 'search API listening');
  drainOnSignals({ log, limitMs: 15_000, drain: () => api.close() });
}

main().catch(exitOnStartupFailure('search'));
