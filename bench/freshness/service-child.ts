/**
 * Child-process entry: one service under test, built with the real constructors, as
 * `georeplica up` runs each in a process of its own: `replicator` (new Replicator), `indexer`
 * (new Indexer, with the stage trace of indexer-trace.ts installed) or `ingest` (buildIngestApi,
 * listening on a free port). Driven over IPC (bench/support/rpc-child.ts).
 */
import type { AddressInfo } from 'node:net';
import { validateDeployment } from '../../config/load.ts';
import { createLogger } from '../../core/logger.ts';
import { Replicator } from '../../replicator/replicator.ts';
import { buildIngestApi } from '../../services/ingest/ingest-api.ts';
import type { IngestApi } from '../../services/ingest/ingest-api.ts';
import { Indexer } from '../../services/indexer/indexer.ts';
import { serveRpc } from '../support/rpc-child.ts';
import { IndexerTrace } from './indexer-trace.ts';
import type { ProbeWatch } from './kafka-probe.ts';

export type ServiceKind = 'replicator' | 'indexer' | 'ingest';

export interface ServiceStart {
  kind: ServiceKind;
  region: string;
  deployment: Record<string, unknown>;
  /** Indexer only: alias and consumer group. */
  index?: string;
  groupId?: string;
}

let replicator: Replicator | undefined;
let indexer: Indexer | undefined;
let ingest: IngestApi | undefined;
const trace = new IndexerTrace();
let stopping: Promise<void> | undefined;

serveRpc({
  async start(p: ServiceStart): Promise<{ url?: string }> {
    const deployment = validateDeployment(p.deployment, 'freshness benchmark deployment');
    const log = createLogger({ name: `bench-${p.kind}-${p.region}`, level: process.env['GEOREPLICA_LOG_LEVEL'] ?? 'warn', destination: process.stdout });
    if (p.kind === 'replicator') {
      replicator = new Replicator({ deployment, region: p.region, log });
      replicator.start();
      return {};
    }
    if (p.kind === 'indexer') {
      trace.install();
      indexer = new Indexer({ deployment, region: p.region, log, ...(p.index ? { index: p.index } : {}), ...(p.groupId ? { groupId: p.groupId } : {}) });
      indexer.start();
      await indexer.ready(120_000);
      return {};
    }
    ingest = await buildIngestApi({ deployment, region: p.region, log });
    await ingest.app.listen({ port: 0, host: '127.0.0.1' });
    return { url: `http://127.0.0.1:${(ingest.app.server.address() as AddressInfo).port}` };
  },
  status: () => indexer?.status() ?? replicator?.status() ?? null,
  /** Replicator only: copy transactions committed so far, over all its flows. */
  transactions: async () => (replicator ? (await replicator.metrics.transactions.get()).values.filter((v) => v.labels['outcome'] === 'committed').reduce((n, v) => n + v.value, 0) : 0),
  watch: (w: ProbeWatch) => trace.startWatch(w),
  collect: () => trace.collect(),
  shutdown: () => {
    stopping ??= Promise.all([replicator?.stop(), indexer?.stop(), ingest?.close()]).then(() => undefined);
    return stopping;
  },
});
