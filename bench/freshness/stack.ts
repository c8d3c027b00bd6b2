/**
 * The system under test of one repeat, each part in a process of its own: in every region a
 * replicator and an indexer, the ingest API of the writing region, and next to them the
 * benchmark's own processes (the writer, the search observer, optionally the Kafka stage probe). The
 * documents topic is created in every region first, so every copy topic exists before the
 * indexers start and no subscription change (a rebalance) falls into a measurement.
 */
import { join } from 'node:path';
import type { Admin } from '../../core/kafka.ts';
import { sleep } from '../../core/retry.ts';
import type { IndexerStatus } from '../../services/indexer/indexer.ts';
import { startRpcChild } from '../support/rpc-child.ts';
import type { RpcChild } from '../support/rpc-child.ts';
import type { RunDeployment } from './deployment.ts';
import type { ProbeTarget } from './kafka-probe.ts';
import type { ServiceStart } from './service-child.ts';

/** Partitions of the documents topic: what the ingest API creates (services/ingest/document-producer.ts). */
const DOCUMENT_PARTITIONS = 6;

export interface Stack {
  writeRegion: string;
  regions: string[];
  ingestUrl: string;
  indexers: Map<string, RpcChild>;
  replicators: Map<string, RpcChild>;
  ingest: RpcChild;
  load: RpcChild;
  observer: RpcChild;
  /** The Kafka stage probe (--kafka-probe), if it runs. */
  probe: RpcChild | undefined;
  /** Seconds from the first process started to every indexer subscribed to all its topics. */
  startSeconds: number;
  /** Pid of every process of the stack, by name (replicator-<region>, indexer-<region>, ingest-<region>, load, observer, probe). */
  pids: Record<string, number>;
  /** Stops the services (they drain), then the benchmark's own processes. */
  close(): Promise<void>;
}

export async function startStack(o: { run: RunDeployment; writeRegion: string; admins: ReadonlyMap<string, Admin>; logDir: string; kafkaProbe: boolean }): Promise<Stack> {
  const { deployment, document, names } = o.run;
  const regions = Object.keys(deployment.regions);
  const t0 = Date.now();
  await Promise.all(
    regions.map(async (region) => {
      const admin = o.admins.get(region);
      if (!admin) throw new Error(`no admin for ${region}`);
      await admin.createTopics({ topics: [{ topic: names.documents, numPartitions: DOCUMENT_PARTITIONS }], timeout: 30_000 });
    }),
  );
  const children: RpcChild[] = [];
  const child = async (module: string, name: string): Promise<RpcChild> => {
    const c = await startRpcChild(new URL(module, import.meta.url), { name, logFile: join(o.logDir, `${name}.log`), readyTimeoutMs: 120_000 });
    children.push(c);
    return c;
  };
  const closeAll = async (): Promise<void> => {
    // Services first (the indexers drain and commit), then the benchmark's processes.
    const services = children.filter((c) => /^(replicator|indexer|ingest)-/.test(c.name));
    await Promise.all(services.map((c) => c.close(45_000)));
    await Promise.all(children.filter((c) => !services.includes(c)).map((c) => c.close(10_000)));
  };
  try {
    const service = async (p: Omit<ServiceStart, 'deployment'>): Promise<[RpcChild, { url?: string }]> => {
      const c = await child('./service-child.ts', `${p.kind}-${p.region}`);
      return [c, await c.call<{ url?: string }>('start', { ...p, deployment: document } satisfies ServiceStart, 180_000)];
    };
    const [replicators, indexers, [ingest, ingestInfo], load, observer, probe] = await Promise.all([
      Promise.all(regions.map((region) => service({ kind: 'replicator', region }))),
      Promise.all(regions.map((region) => service({ kind: 'indexer', region, index: names.alias, groupId: names.indexerGroup(region) }))),
      service({ kind: 'ingest', region: o.writeRegion }),
      child('./load-child.ts', 'load'),
      child('./observer-child.ts', 'observer'),
      o.kafkaProbe ? child('./probe-child.ts', 'probe') : undefined,
    ]);
    if (!ingestInfo.url) throw new Error('the ingest API did not report its URL');
    const indexerMap = new Map(indexers.map(([c], i) => [regions[i] as string, c]));
    // Every indexer consumes its local topic and one copy per other region: wait for all of them.
    const deadline = Date.now() + 120_000;
    for (;;) {
      const statuses = await Promise.all([...indexerMap.values()].map((c) => c.call<IndexerStatus>('status')));
      if (statuses.every((s) => s.state === 'running' && s.subscribed.length === s.topics.length)) break;
      if (Date.now() > deadline) throw new Error(`indexers not subscribed to all topics within 120 s: ${statuses.map((s) => `${s.region} ${s.state} [${s.subscribed.join(', ')}] of [${s.topics.join(', ')}]`).join('; ')}`);
      await sleep(250);
    }
    const targets: ProbeTarget[] = regions.map((region) => ({
      region,
      bootstrap: deployment.regions[region]?.kafka.bootstrap ?? [],
      topic: region === o.writeRegion ? names.documents : `${o.writeRegion}.${names.documents}`,
      groupId: `${names.prefix}-probe-${region}`,
    }));
    await probe?.call('start', { targets }, 120_000);
    return {
      writeRegion: o.writeRegion,
      regions,
      ingestUrl: ingestInfo.url,
      indexers: indexerMap,
      replicators: new Map(replicators.map(([c], i) => [regions[i] as string, c])),
      ingest,
      load,
      observer,
      probe,
      startSeconds: (Date.now() - t0) / 1000,
      pids: Object.fromEntries(children.map((c) => [c.name, c.pid])),
      close: closeAll,
    };
  } catch (err) {
    await closeAll().catch(() => undefined);
    throw err;
  }
}
