/**
 * The services under test: per region the replicator, indexer, ingest API and search API, plus
 * router instances, each a real process (SIGKILL, SIGSTOP and SIGTERM reach it) started from its
 * entry point exactly as `georeplica up` starts it, but in their own namespace: topics, the
 * replicator instance, indexer groups and the routers' drain bucket and cache prefix are this
 * fleet's alone, so every record in its topics is the workload's and the checks are exact.
 * They use the deployment's service ports, so the runtime must not run its own services.
 *
 * Processes carry the marker of `<runtime state dir>/chaos-fleet`: a fleet left behind by a
 * crashed run is stopped when the next one starts.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { validateDeployment } from '../config/load.ts';
import type { Deployment } from '../config/schema.ts';
import { GeoError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import { PROJECT_ROOT, TSX_IMPORT } from '../topology/runtime/paths.ts';
import { getJson } from '../topology/runtime/probes.ts';
import { assertPortsFree, findByMarker, isAlive, logSize, procState, signalGroup, startProcess, terminate, waitForExit, waitForState, waitReady } from '../topology/runtime/process-control.ts';
import type { ProcState } from '../topology/runtime/process-control.ts';
import { stateMarker } from '../topology/runtime/server-spec.ts';
import type { ServerSpec } from '../topology/runtime/server-spec.ts';
import { SERVICE_ENV, SERVICE_NICENESS } from '../core/service-env.ts';

/** The index alias the fleet's indexers write and its search APIs read: the services' default. */
export const FLEET_INDEX = 'documents';

export const FLEET_SERVICES = ['replicator', 'indexer', 'ingest', 'search', 'router'] as const;
export type FleetService = (typeof FLEET_SERVICES)[number];

const ENTRY: Record<FleetService, string> = {
  replicator: join('replicator', 'main.ts'),
  indexer: join('services', 'indexer', 'main.ts'),
  ingest: join('services', 'ingest', 'main.ts'),
  search: join('services', 'search', 'main.ts'),
  router: join('services', 'router', 'main.ts'),
};

export interface FleetOptions {
  /** The runtime's deployment (Kafka, OpenSearch, ports). */
  base: Readonly<Deployment>;
  /** The runtime's state directory; the fleet lives in `chaos-fleet` under it. */
  stateDir: string;
  /** Regions that get a router instance. */
  routers: readonly string[];
  log: Logger;
  /** Seconds to wait for a service to answer /health. */
  readyTimeoutSec?: number;
}

export class Fleet {
  /** The namespace of this fleet's topics, groups and instance names, e.g. "chaos-1a2b3c4d". */
  readonly namespace: string;
  readonly deployment: Readonly<Deployment>;
  readonly dir: string;
  private readonly specs = new Map<string, ServerSpec>();
  private readonly pids = new Map<string, number>();
  private readonly starting = new Map<string, Promise<void>>();
  private readonly log: Logger;
  private readonly readyTimeoutMs: number;

  constructor(o: FleetOptions) {
    this.namespace = `chaos-${randomUUID().slice(0, 8)}`;
    this.dir = join(o.stateDir, 'chaos-fleet');
    this.log = o.log.child({ component: 'chaos-fleet', namespace: this.namespace });
    this.readyTimeoutMs = (o.readyTimeoutSec ?? 180) * 1000;
    this.deployment = namespaced(o.base, this.namespace);
    const config = join(this.dir, 'deployment.yaml');
    for (const region of Object.keys(this.deployment.regions)) {
      for (const service of FLEET_SERVICES) {
        if (service === 'router' && !o.routers.includes(region)) continue;
        const extra = service === 'indexer' ? ['--group', `${this.namespace}-indexer-${region}`] : [];
        this.specs.set(`${region}/${service}`, this.spec(region, service, config, extra));
      }
    }
  }

  get names(): string[] {
    return [...this.specs.keys()];
  }

  has(name: string): boolean {
    return this.specs.has(name);
  }

  /** Every service's HTTP base URL, by name ("us-east/ingest" → http://127.0.0.1:27010). */
  url(name: string): string {
    const spec = this.specs.get(name);
    if (!spec) throw new GeoError('RUNTIME_UNKNOWN_SERVER', `No fleet service "${name}". Known: ${this.names.join(', ')}.`);
    return spec.endpoint;
  }

  /** Stops strays of an earlier run, then starts every service and waits until each answers /health. */
  async up(): Promise<void> {
    const strays = findByMarker(stateMarker(this.dir));
    if (strays.length > 0) this.log.warn({ pids: strays }, 'stopping services left behind by an earlier chaos run');
    await Promise.all(strays.map((pid) => terminate(pid, 10_000)));
    mkdirSync(this.dir, { recursive: true });
    writeFileSync(join(this.dir, 'deployment.yaml'), stringify(this.deployment));
    for (const spec of this.specs.values()) await assertPortsFree(spec);
    // Replicators and ingest first: the ingest API creates the documents topic the others read.
    const order: FleetService[][] = [['ingest', 'replicator'], ['indexer', 'search'], ['router']];
    for (const group of order) await Promise.all(this.names.filter((n) => group.includes(n.split('/')[1] as FleetService)).map((n) => this.start(n)));
    this.log.info({ services: this.names.length }, 'chaos fleet up');
  }

  /** SIGTERM to every service (SIGKILL after 15 s). */
  async down(): Promise<void> {
    const pids = new Set([...this.pids.values(), ...findByMarker(stateMarker(this.dir))]);
    await Promise.all([...pids].map((pid) => terminate(pid, 15_000)));
    this.pids.clear();
  }

  logFile(name: string): string {
    return this.specOf(name).logFile;
  }

  state(name: string): ProcState | 'not started' {
    const pid = this.pids.get(name);
    return pid === undefined ? 'not started' : procState(pid);
  }

  /** Starts a service that is not running and waits until it answers; concurrent calls share one start. */
  async start(name: string): Promise<void> {
    const spec = this.specOf(name);
    const pending = this.starting.get(name);
    if (pending) return pending;
    const pid = this.pids.get(name);
    if (pid !== undefined && isAlive(pid)) return;
    const p = (async () => {
      await spec.prepare();
      const offset = logSize(spec.logFile);
      const started = startProcess(spec);
      this.pids.set(name, started);
      await waitReady(spec, started, offset, this.readyTimeoutMs);
    })();
    this.starting.set(name, p);
    try {
      await p;
    } finally {
      this.starting.delete(name);
    }
  }

  async kill(name: string): Promise<void> {
    const pid = this.pidOf(name);
    signalGroup(pid, 'SIGKILL');
    await waitForExit(pid, 10_000);
  }

  async stop(name: string): Promise<void> {
    await terminate(this.pidOf(name), 30_000);
  }

  async pause(name: string): Promise<void> {
    const pid = this.pidOf(name);
    signalGroup(pid, 'SIGSTOP');
    await waitForState(pid, 'paused');
  }

  async resume(name: string): Promise<void> {
    const pid = this.pidOf(name);
    signalGroup(pid, 'SIGCONT');
    await waitForState(pid, 'running');
  }

  private pidOf(name: string): number {
    this.specOf(name);
    const pid = this.pids.get(name);
    if (pid === undefined || !isAlive(pid)) throw new GeoError('RUNTIME_NOT_RUNNING', `${name} is not running.`, { details: { server: name } });
    return pid;
  }

  private specOf(name: string): ServerSpec {
    const spec = this.specs.get(name);
    if (!spec) throw new GeoError('RUNTIME_UNKNOWN_SERVER', `No fleet service "${name}". Known: ${this.names.join(', ')}.`, { details: { target: name } });
    return spec;
  }

  private spec(region: string, service: FleetService, config: string, extra: string[]): ServerSpec {
    const port = this.deployment.regions[region]?.ports[service] ?? 0;
    const dir = join(this.dir, region, service);
    const base = `http://127.0.0.1:${port}`;
    return {
      name: `${region}/${service}`,
      region,
      kind: 'service',
      command: process.execPath,
      args: ['--import', TSX_IMPORT, join(PROJECT_ROOT, ENTRY[service]), '--region', region, '--config', config, ...extra, `--${stateMarker(this.dir)}`],
      env: { ...SERVICE_ENV, GEOREPLICA_LOG_LEVEL: process.env['GEOREPLICA_LOG_LEVEL'] ?? 'info' },
      niceness: SERVICE_NICENESS[service],
      dir,
      logFile: join(dir, 'service.log'),
      ports: [port],
      endpoint: base,
      prepare() {
        mkdirSync(dir, { recursive: true });
        return Promise.resolve();
      },
      async probeReady() {
        return (await getJson(`${base}/health`, 1_000, { anyStatus: true })) !== undefined;
      },
      async probeHealth() {
        const h = await getJson(`${base}/health`, 1_000);
        return { ok: h !== undefined, detail: h === undefined ? 'not healthy' : 'healthy' };
      },
    };
  }
}

/** The base deployment with this fleet's own topics, replicator instance and router state. */
export function namespaced(base: Readonly<Deployment>, ns: string): Readonly<Deployment> {
  const doc = structuredClone(base) as unknown as Record<string, Record<string, unknown>>;
  doc['topics'] = { documents: `${ns}-documents`, heartbeats: `${ns}-heartbeats`, deadLetter: `${ns}-documents.dlq` };
  // Topic sync every second: the copies of the freshly created topics start at once.
  doc['replication'] = { ...doc['replication'], instance: ns, include: `${ns}-.*`, topicSyncIntervalMs: 1_000, maxBackoffMs: 2_000 };
  const router = doc['router'] ?? {};
  doc['router'] = { ...router, nats: { ...(router['nats'] as object), bucket: ns }, redis: { ...(router['redis'] as object), keyPrefix: `georeplica:${ns}:` } };
  return validateDeployment(doc, `chaos fleet ${ns}`);
}
