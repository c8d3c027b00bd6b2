/**
 * Whole regional stacks on the shared test regions, per test: in every region a replicator,
 * an indexer, the ingest API and the search API, in process, all on this test's own topics,
 * index, consumer groups and replicator instance (test/support/replication.ts). Everything
 * started here is stopped after the test, pass or fail.
 *
 * The indexer can instead run as a separate process (`indexerProcess: [region]`), for tests
 * that SIGKILL it.
 */
import type { AddressInfo } from 'node:net';
import { afterEach } from 'vitest';
import type { Deployment } from '../../config/schema.ts';
import { createLogger } from '../../core/logger.ts';
import { Replicator } from '../../replicator/replicator.ts';
import type { WriteAccepted } from '../../services/ingest/ingest-api.ts';
import { buildIngestApi } from '../../services/ingest/ingest-api.ts';
import { Indexer } from '../../services/indexer/indexer.ts';
import type { IndexerStatus } from '../../services/indexer/indexer.ts';
import type { SearchApi, SearchResponseBody } from '../../services/search/search-api.ts';
import { buildSearchApi } from '../../services/search/search-api.ts';
import type { LocalRuntime } from '../../topology/runtime/local-runtime.ts';
import { testReplication } from './replication.ts';
import type { ServiceProcess } from './service-process.ts';
import { freePort, useServiceProcesses } from './service-process.ts';

const log = createLogger({ name: 'test-stack', level: process.env['TEST_LOG_LEVEL'] ?? 'warn' });

export interface RegionStack {
  region: string;
  ingestUrl: string;
  searchUrl: string;
  search: SearchApi;
  /** The in-process indexer, or undefined when it runs as a process. */
  indexer: Indexer | undefined;
  indexerProcess: ServiceProcess | undefined;
  indexerStatus(): Promise<IndexerStatus>;
  replicator: Replicator;
}

export interface Stacks {
  deployment: Readonly<Deployment>;
  /** This test's topic prefix; also the index alias. */
  prefix: string;
  documents: string;
  deadLetter: string;
  regions: Record<string, RegionStack>;
  /** PUT /documents/:id through a region's ingest API; throws unless 202. */
  put(region: string, id: string, body: Record<string, unknown>): Promise<WriteAccepted>;
  del(region: string, id: string): Promise<WriteAccepted>;
  /** POST /search on a region's search API. */
  query(region: string, body: Record<string, unknown>): Promise<{ status: number; headers: Headers; body: SearchResponseBody }>;
  /** id → version of every live document a region's search API returns (up to 10 000). */
  liveVersions(region: string): Promise<Map<string, string>>;
  /** Starts a region's indexer process again after a kill (same group, same port). */
  restartIndexer(region: string): Promise<void>;
  /** Every region's replicator flows (per partition) and indexer, compact, for a failure message. */
  diagnose(): Promise<string>;
}

export function useRegionStacks(runtime: LocalRuntime): (o?: { regions?: string[]; indexerProcess?: string[]; flushIntervalMs?: number }) => Promise<Stacks> {
  const closers: Array<() => Promise<unknown>> = [];
  const processes = useServiceProcesses();
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close().catch((err: unknown) => log.warn({ err }, 'closing a test stack failed'));
  });

  return async (o = {}) => {
    const names = o.regions ?? Object.keys(runtime.deployment.regions);
    const t = testReplication(runtime);
    const documents = `${t.prefix}-documents`;
    const deadLetter = `${t.prefix}-documents.dlq`;
    const doc = structuredClone(t.deployment) as unknown as { topics: Record<string, string> };
    doc.topics = { ...doc.topics, documents, deadLetter };
    const deployment = Object.freeze(doc as unknown as Deployment);
    const regions: Record<string, RegionStack> = {};
    const groupOf = (region: string): string => `${t.prefix}-indexer-${region}`;
    const indexerPorts = new Map<string, number>();

    const startIndexerProcess = async (region: string): Promise<ServiceProcess> => {
      const port = indexerPorts.get(region) ?? (await freePort());
      indexerPorts.set(region, port);
      // The process reads its settings from the deployment: alias and group come from its defaults, so name them by topic.
      return processes('services/indexer/main.ts', deployment, ['--region', region, '--port', String(port), '--index', t.prefix, '--group', groupOf(region)]);
    };

    await Promise.all(
      names.map(async (region) => {
        const replicator = new Replicator({ deployment, region, log });
        replicator.start();
        closers.push(() => replicator.stop());

        let indexer: Indexer | undefined;
        let indexerProcess: ServiceProcess | undefined;
        if (o.indexerProcess?.includes(region)) {
          indexerProcess = await startIndexerProcess(region);
        } else {
          indexer = new Indexer({ deployment, region, log, index: t.prefix, groupId: groupOf(region), flushIntervalMs: o.flushIntervalMs ?? 100 });
          indexer.start();
          closers.push(() => indexer?.stop() ?? Promise.resolve());
        }
        const indexerStatus = async (): Promise<IndexerStatus> => {
          if (indexer) return indexer.status();
          const res = await fetch(`http://127.0.0.1:${indexerPorts.get(region) ?? 0}/status`, { signal: AbortSignal.timeout(1_000) });
          return (await res.json()) as IndexerStatus;
        };

        const ingest = await buildIngestApi({ deployment, region, log, producer: { messageTimeoutMs: 10_000 } });
        await ingest.app.listen({ port: 0, host: '127.0.0.1' });
        closers.push(() => ingest.close());
        const search = await buildSearchApi({ deployment, region, log, index: t.prefix, indexer: { report: indexerStatus } });
        await search.app.listen({ port: 0, host: '127.0.0.1' });
        closers.push(() => search.close());
        regions[region] = { region, ingestUrl: urlOf(ingest.app.server.address()), searchUrl: urlOf(search.app.server.address()), search, indexer, indexerProcess, indexerStatus, replicator };
      }),
    );

    const stackOf = (region: string): RegionStack => {
      const s = regions[region];
      if (!s) throw new Error(`no stack for ${region}`);
      return s;
    };
    const write = async (region: string, method: 'PUT' | 'DELETE', id: string, body?: Record<string, unknown>): Promise<WriteAccepted> => {
      const res = await fetch(`${stackOf(region).ingestUrl}/documents/${encodeURIComponent(id)}`, {
        method,
        ...(body ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {}),
      });
      const text = await res.text();
      if (res.status !== 202) throw new Error(`${method} ${id} in ${region} answered ${res.status}: ${text}`);
      return JSON.parse(text) as WriteAccepted;
    };
    const query: Stacks['query'] = async (region, body) => {
      const res = await fetch(`${stackOf(region).searchUrl}/search`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      return { status: res.status, headers: res.headers, body: (await res.json()) as SearchResponseBody };
    };
    return {
      deployment,
      prefix: t.prefix,
      documents,
      deadLetter,
      regions,
      put: (region, id, body) => write(region, 'PUT', id, body),
      del: (region, id) => write(region, 'DELETE', id),
      query,
      async liveVersions(region) {
        const out = new Map<string, string>();
        const res = await query(region, { size: 100, from: 0, sort: [{ field: 'seq', order: 'asc' }] });
        if (res.status !== 200) throw new Error(`search in ${region} answered ${res.status}: ${JSON.stringify(res.body)}`);
        let from = 0;
        let page = res.body;
        for (;;) {
          for (const h of page.hits) out.set(h.id, h.version);
          from += page.hits.length;
          if (page.hits.length === 0 || from >= page.total || from + 100 > 10_000) break;
          const next = await query(region, { size: 100, from, sort: [{ field: 'seq', order: 'asc' }] });
          if (next.status !== 200) throw new Error(`search in ${region} answered ${next.status}`);
          page = next.body;
        }
        return out;
      },
      async restartIndexer(region) {
        const s = stackOf(region);
        s.indexerProcess = await startIndexerProcess(region);
      },
      async diagnose() {
        const lines: string[] = [];
        for (const s of Object.values(regions)) {
          for (const f of s.replicator.status().flows) {
            const parts = f.partitions.filter((p) => !p.topic.endsWith('heartbeats')).map((p) => `${p.partition}:${p.state}@${p.nextSourceOffset ?? '-'}/${p.highWatermark ?? '-'}`);
            lines.push(`flow ${f.flow} ${f.state}${f.reason ? ` (${f.reason})` : ''} topics=[${f.topics.join(',')}] ${parts.join(' ')}`);
          }
          const ix = await s.indexerStatus().catch((err: unknown) => ({ error: (err as Error).message }));
          lines.push(`indexer ${s.region} ${JSON.stringify(ix)}`);
        }
        return lines.join('\n');
      },
    };
  };
}

function urlOf(address: AddressInfo | string | null): string {
  if (address === null || typeof address === 'string') throw new Error('expected a TCP address');
  return `http://127.0.0.1:${address.port}`;
}
