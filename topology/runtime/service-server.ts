/**
 * The project's own services as runtime servers: plain Node processes running the TypeScript
 * entry points through tsx, reading the runtime's effective deployment file.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { Deployment } from '../../config/schema.ts';
import { SERVICE_ENV, SERVICE_NICENESS } from '../../core/service-env.ts';
import { PROJECT_ROOT, TSX_IMPORT } from './paths.ts';
import { getJson } from './probes.ts';
import { stateMarker } from './server-spec.ts';
import type { ServerSpec } from './server-spec.ts';

export interface ServiceOptions {
  region: string;
  stateDir: string;
  deployment: Readonly<Deployment>;
}

export function deploymentFile(stateDir: string): string {
  return join(stateDir, 'deployment.yaml');
}

/** The project's services, in the order `up` starts them (all after the region's Kafka and OpenSearch). */
export const SERVICES = ['replicator', 'indexer', 'ingest', 'search', 'router'] as const;
export type ServiceName = (typeof SERVICES)[number];

const ENTRY: Record<ServiceName, string> = {
  replicator: join('replicator', 'main.ts'),
  indexer: join('services', 'indexer', 'main.ts'),
  ingest: join('services', 'ingest', 'main.ts'),
  search: join('services', 'search', 'main.ts'),
  router: join('services', 'router', 'main.ts'),
};

export function serviceServerName(region: string, service: ServiceName): string {
  return `${region}/${service}`;
}

/** What one line of `status` says about a service, from its /health body. */
function healthDetail(service: ServiceName, h: Record<string, unknown>): string {
  switch (service) {
    case 'replicator':
      return Object.entries((h['flows'] as Record<string, string> | undefined) ?? {}).map(([f, s]) => `${f} ${s}`).join(', ') || String(h['status']);
    case 'indexer': {
      const counts = h['counts'] as { indexed?: number; deadLettered?: number } | undefined;
      const paused = (h['paused'] as string[] | undefined) ?? [];
      return `${String(h['state'])}, ${counts?.indexed ?? 0} indexed, ${counts?.deadLettered ?? 0} dead-lettered${paused.length > 0 ? `, paused: ${paused.join(', ')}` : ''}`;
    }
    case 'ingest':
      return `${String(h['status'])}, topic ${String(h['topic'])}`;
    case 'search': {
      const fresh = h['maxFreshnessMs'];
      return `${String(h['status'])}, freshness ${typeof fresh === 'number' ? `${fresh} ms` : 'unknown'}`;
    }
    case 'router':
      return `${String(h['status'])}, instance ${String(h['instance'])}`;
  }
}

function isHealthy(service: ServiceName, h: Record<string, unknown>): boolean {
  switch (service) {
    case 'replicator':
    case 'ingest':
    case 'search':
    case 'router':
      return h['status'] === 'ok';
    case 'indexer':
      return h['state'] === 'running';
  }
}

export function serviceSpec(o: ServiceOptions & { service: ServiceName }): ServerSpec {
  const port = o.deployment.regions[o.region]?.ports[o.service] ?? 0;
  const dir = join(o.stateDir, o.region, o.service);
  const base = `http://127.0.0.1:${port}`;
  return {
    name: serviceServerName(o.region, o.service),
    region: o.region,
    kind: 'service',
    command: process.execPath,
    args: ['--import', TSX_IMPORT, join(PROJECT_ROOT, ENTRY[o.service]), '--region', o.region, '--config', deploymentFile(o.stateDir), `--${stateMarker(o.stateDir)}`],
    env: { ...SERVICE_ENV, GEOREPLICA_LOG_LEVEL: process.env['GEOREPLICA_LOG_LEVEL'] ?? 'info' },
    niceness: SERVICE_NICENESS[o.service],
    dir,
    logFile: join(dir, 'service.log'),
    ports: [port],
    endpoint: base,
    prepare() {
      mkdirSync(dir, { recursive: true });
      // Every service reads the same effective deployment the runtime was started with.
      writeFileSync(deploymentFile(o.stateDir), stringify(o.deployment));
      return Promise.resolve();
    },
    async probeReady() {
      // Any answer on /health means the process is serving; whether it is healthy is probeHealth's business.
      return (await getJson(`${base}/health`, 1_000, { anyStatus: true })) !== undefined;
    },
    async probeHealth() {
      const h = (await getJson(`${base}/health`, 1_000, { anyStatus: true })) as Record<string, unknown> | undefined;
      if (!h) return { ok: false, detail: 'no answer on /health' };
      return { ok: isHealthy(o.service, h), detail: healthDetail(o.service, h) };
    },
  };
}
