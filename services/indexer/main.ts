/**
 * The indexer process: `node --import tsx services/indexer/main.ts --region eu-west [--config f] [--port N]
 * [--index alias] [--group id]`.
 * It indexes the region's own documents topic and the copies of every other region's into the
 * region's OpenSearch. SIGTERM and SIGINT drain: no new records are taken, the bulks in hand are
 * written and their offsets committed, clients disconnect, then the process exits 0.
 */
import { parseServiceArgs } from '../../core/args.ts';
import { createLogger } from '../../core/logger.ts';
import { drainOnSignals, exitOnStartupFailure } from '../../core/process-lifecycle.ts';
import { Indexer } from './indexer.ts';
import { IndexerMetrics } from './metrics.ts';
import { buildIndexerStatusApi } from './status-api.ts';

async function main(): Promise<void> {
  const { region, deployment, port, extra } = parseServiceArgs('indexer', { extra: ['index', 'group'] });
  const log = createLogger({ name: 'indexer' });
  const indexer = new Indexer({
    deployment,
    region,
    log,
    metrics: new IndexerMetrics({ defaultMetrics: true }),
    ...(extra['index'] === undefined ? {} : { index: extra['index'] }),
    ...(extra['group'] === undefined ? {} : { groupId: extra['group'] }),
  });
  indexer.start();
  const api = await buildIndexerStatusApi({ indexer, log });
  await api.listen({ port, host: '127.0.0.1' });
  log.info({ region, port, topics: indexer.status().topics }, 'indexer started');

  drainOnSignals({
    log,
    drain: async () => {
      await indexer.stop();
      await api.close();
      log.info({ counts: indexer.status().counts }, 'indexer drained');
    },
  });
}

main().catch(exitOnStartupFailure('indexer'));
