/**
 * The replicator process: `node --import tsx replicator/main.ts --region eu-west [--config f]
 * [--sources us-east,ap-southeast] [--admin-port N]`. It replicates every other region into
 * --region and serves the admin API. SIGTERM and SIGINT drain: the admin API closes, every flow
 * finishes or aborts its open transaction, clients disconnect, then the process exits 0.
 */
import { parseServiceArgs } from '../core/args.ts';
import { createLogger } from '../core/logger.ts';
import { drainOnSignals, exitOnStartupFailure } from '../core/process-lifecycle.ts';
import { Replicator } from './replicator.ts';

async function main(): Promise<void> {
  const { region, deployment, port, extra } = parseServiceArgs('replicator', { portFlag: 'admin-port', extra: ['sources'] });
  const log = createLogger({ name: 'replicator' });
  const sources = extra['sources']?.split(',').map((s) => s.trim()).filter((s) => s !== '');
  const replicator = new Replicator({ deployment, region, log, ...(sources ? { sources } : {}) });
  const { buildAdminApi } = await import('./admin-api.ts');
  const api = buildAdminApi({ replicator, token: deployment.admin.token, log });
  replicator.start();
  await api.listen({ port, host: '127.0.0.1' });
  log.info({ region, port, flows: replicator.status().flows.map((f) => f.flow) }, 'replicator started');

  drainOnSignals({
    log,
    drain: async () => {
      await api.close().catch(() => undefined);
      await replicator.stop();
    },
  });
}

main().catch(exitOnStartupFailure('replicator'));
