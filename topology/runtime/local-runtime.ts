/**
 * The local multi-region runtime: materialises a deployment on this machine, one Kafka
 * cluster and one OpenSearch node per region, each in its own process with its own ports
 * and data under the state directory. Tests and the CLI drive it through this class.
 */
import { mkdirSync } from 'node:fs';
import { linkPlan, linkPlans } from '../../config/link-plan.ts';
import { validateDeployment } from '../../config/load.ts';
import type { Deployment } from '../../config/schema.ts';
import { GeoError } from '../../core/errors.ts';
import type { Logger } from '../../core/logger.ts';
import { silentLogger } from '../../core/logger.ts';
import { changeLink, readLink } from '../link-proxy/control-client.ts';
import type { LinkFaults, LinkFaultsChange } from '../link-proxy/link-faults.ts';
import { requireFetched } from './fetch.ts';
import { findJdk } from './jdk.ts';
import { kafkaServerSpec } from './kafka-server.ts';
import { linkServerSpec } from './link-server.ts';
import { openSearchServerSpec } from './opensearch-server.ts';
import { SERVICES, serviceSpec } from './service-server.ts';
import { resolveFromRoot } from './paths.ts';
import { assertPortsFree, findByMarker, hasMarker, isAlive, logSize, procState, signalGroup, startProcess, terminate, waitForExit, waitForState, waitReady } from './process-control.ts';
import type { ProcState } from './process-control.ts';
import { stateMarker } from './server-spec.ts';
import type { ServerSpec } from './server-spec.ts';
import { purgeStateDir, readState, writeState } from './state-file.ts';
import type { RuntimeState } from './state-file.ts';

export interface RuntimeOptions {
  deployment: Readonly<Deployment>;
  /** Overrides deployment.runtime.stateDir. */
  stateDir?: string;
  /**
   * Also run the project's services per region (replicator, indexer, ingest, search). On for
   * `georeplica up`; off for the test suite, whose tests start their own with their own names.
   */
  services?: boolean;
  log?: Logger;
}

export interface ServerStatus {
  name: string;
  region: string;
  kind: ServerSpec['kind'];
  endpoint: string;
  ports: readonly number[];
  pid: number | undefined;
  process: ProcState | 'not started';
  healthy: boolean;
  detail: string;
  logFile: string;
}

export interface RegionEndpoints {
  kafkaBootstrap: string;
  searchUrl: string;
  ports: Readonly<Deployment['regions'][string]['ports']>;
}

export class LocalRuntime {
  readonly deployment: Readonly<Deployment>;
  readonly stateDir: string;
  readonly services: boolean;
  private readonly log: Logger;
  private readonly specs: ReadonlyMap<string, ServerSpec>;

  constructor(options: RuntimeOptions) {
    this.deployment = options.deployment;
    this.stateDir = resolveFromRoot(options.stateDir ?? options.deployment.runtime.stateDir);
    this.log = options.log ?? silentLogger();
    this.services = options.services ?? true;
    this.specs = new Map(buildSpecs(this.deployment, this.stateDir, this.services).map((s) => [s.name, s]));
  }

  /** Reopens a runtime that `up` started earlier, from its state directory. */
  static attach(stateDir: string, log?: Logger): LocalRuntime {
    const dir = resolveFromRoot(stateDir);
    const state = readState(dir);
    if (!state) throw new GeoError('RUNTIME_NOT_RUNNING', `No local runtime state in ${dir}. Start one with: npx georeplica up`);
    const deployment = validateDeployment(state.deployment, `${dir}/state.json`);
    return new LocalRuntime({ deployment, stateDir: dir, services: state.services ?? true, ...(log ? { log } : {}) });
  }

  get serverNames(): string[] {
    return [...this.specs.keys()];
  }

  /** An exact server name, "<region>/kafka" for all of a region's brokers, or "<region>" for all its servers. */
  resolve(target: string): ServerSpec[] {
    const exact = this.specs.get(target);
    if (exact) return [exact];
    const all = [...this.specs.values()];
    const [region, kind] = target.split('/');
    const matches = all.filter((s) => s.region === region && (kind === undefined || s.kind === kind));
    if (matches.length === 0) {
      throw new GeoError('RUNTIME_UNKNOWN_SERVER', `No server "${target}". Known servers: ${this.serverNames.join(', ')} (or a group: <region>/kafka, <region>).`, { details: { target } });
    }
    return matches;
  }

  endpoints(): Record<string, RegionEndpoints> {
    const out: Record<string, RegionEndpoints> = {};
    for (const [name, r] of Object.entries(this.deployment.regions)) {
      out[name] = { kafkaBootstrap: r.kafka.bootstrap.join(','), searchUrl: r.search.url, ports: r.ports };
    }
    return out;
  }

  /**
   * Starts whatever is not already running, in parallel, and waits for all of it. Idempotent:
   * servers that are up are left alone; servers recorded but dead are started again.
   */
  async up(): Promise<{ started: string[]; alreadyRunning: string[]; seconds: number }> {
    const t0 = Date.now();
    requireFetched('kafka');
    requireFetched('opensearch');
    mkdirSync(this.stateDir, { recursive: true });
    const state = this.loadState();
    const running = new Set(Object.entries(state.servers).filter(([name, rec]) => this.specs.has(name) && this.owns(rec.pid)).map(([name]) => name));
    // Processes carrying our marker but not in the state (a crashed `up`) would hold ports.
    const known = new Set([...running].map((n) => state.servers[n]?.pid));
    const strays = findByMarker(stateMarker(this.stateDir)).filter((pid) => !known.has(pid));
    await Promise.all(strays.map((pid) => terminate(pid, 10_000)));

    const toStart = [...this.specs.values()].filter((s) => !running.has(s.name));
    for (const spec of toStart) await assertPortsFree(spec);
    // Services need their region's Kafka: servers first, then services.
    await this.startAll(toStart.filter((s) => s.kind !== 'service'), state);
    await this.startAll(toStart.filter((s) => s.kind === 'service'), state);
    return { started: toStart.map((s) => s.name), alreadyRunning: [...running], seconds: (Date.now() - t0) / 1000 };
  }

  /**
   * Stops every process of a state directory using only the state file and the marker, with no
   * deployment: `down` must work even when the recorded deployment no longer validates (say,
   * after an upgrade changed the schema).
   */
  static async forceDown(stateDir: string, options: { purge?: boolean; graceMs?: number } = {}): Promise<number> {
    const dir = resolveFromRoot(stateDir);
    const marker = stateMarker(dir);
    const pids = new Set(findByMarker(marker));
    for (const rec of Object.values(readState(dir)?.servers ?? {})) if (isAlive(rec.pid) && hasMarker(rec.pid, marker)) pids.add(rec.pid);
    await Promise.all([...pids].map((pid) => terminate(pid, options.graceMs ?? 20_000)));
    if (options.purge) purgeStateDir(dir);
    return pids.size;
  }

  /** Stops everything this runtime started (and any stray carrying its marker). */
  async down(options: { purge?: boolean; graceMs?: number } = {}): Promise<string[]> {
    const state = readState(this.stateDir);
    const pids = new Set<number>();
    for (const rec of Object.values(state?.servers ?? {})) if (this.owns(rec.pid)) pids.add(rec.pid);
    for (const pid of findByMarker(stateMarker(this.stateDir))) pids.add(pid);
    await Promise.all([...pids].map((pid) => terminate(pid, options.graceMs ?? 20_000)));
    if (state) writeState(this.stateDir, { ...state, servers: {} });
    if (options.purge) purgeStateDir(this.stateDir);
    return Object.keys(state?.servers ?? {});
  }

  async status(): Promise<ServerStatus[]> {
    const state = readState(this.stateDir);
    return Promise.all(
      [...this.specs.values()].map(async (spec) => {
        const rec = state?.servers[spec.name];
        const pid = rec?.pid;
        const proc: ServerStatus['process'] = pid === undefined ? 'not started' : this.owns(pid) ? procState(pid) : 'dead';
        const health = proc === 'running' ? await spec.probeHealth() : { ok: false, detail: proc === 'paused' ? 'paused (SIGSTOP)' : 'not running' };
        return { name: spec.name, region: spec.region, kind: spec.kind, endpoint: spec.endpoint, ports: spec.ports, pid, process: proc, healthy: health.ok, detail: health.detail, logFile: spec.logFile };
      }),
    );
  }

  /** SIGKILL: the process dies at once, as in a crash. */
  async kill(target: string): Promise<void> {
    await this.each(target, async (spec, pid) => {
      signalGroup(pid, 'SIGKILL');
      await waitForExit(pid, 10_000);
      this.log.info({ server: spec.name, pid }, 'killed');
    });
  }

  /** SIGTERM: a clean shutdown, waited for (SIGKILL after the grace period). */
  async stop(target: string, graceMs = 30_000): Promise<void> {
    await this.each(target, async (spec, pid) => {
      await terminate(pid, graceMs);
      this.log.info({ server: spec.name, pid }, 'stopped');
    });
  }

  /** SIGSTOP: the process freezes with its sockets open, as in a long GC pause or a hung VM. */
  async pause(target: string): Promise<void> {
    await this.each(target, async (spec, pid) => {
      signalGroup(pid, 'SIGSTOP');
      await waitForState(pid, 'paused');
      this.log.info({ server: spec.name, pid }, 'paused');
    });
  }

  async resume(target: string): Promise<void> {
    await this.each(target, async (spec, pid) => {
      signalGroup(pid, 'SIGCONT');
      await waitForState(pid, 'running');
      this.log.info({ server: spec.name, pid }, 'resumed');
    });
  }

  /** Starts servers that are down (after kill or stop), keeping their data, and waits until ready. */
  async start(target: string): Promise<void> {
    const state = this.loadState();
    const specs = this.resolve(target).filter((s) => {
      const rec = state.servers[s.name];
      return !(rec && this.owns(rec.pid));
    });
    for (const spec of specs) await assertPortsFree(spec);
    await this.startAll(specs, state);
  }

  /**
   * Changes the faults of the link proxy source->target (or 'clear': back to its baseline, the
   * topology's latency; nothing: only read them) and returns its faults after the change.
   * Needs runtime.linkProxies.
   */
  async link(source: string, target: string, change?: Readonly<LinkFaultsChange> | 'clear'): Promise<LinkFaults> {
    for (const r of [source, target]) if (!this.deployment.regions[r]) throw new GeoError('UNKNOWN_REGION', `Unknown region "${r}". Valid regions: ${Object.keys(this.deployment.regions).join(', ')}.`, { details: { region: r } });
    const plan = linkPlan(this.deployment, source, target);
    if (!plan) throw new GeoError('INVALID_ARGUMENT', `No link proxy ${source}->${target}: ${source === target ? 'a region has no link to itself' : 'runtime.linkProxies.enabled is false in this runtime\'s deployment; enable it and run up again'}.`, { details: { source, target } });
    const control = { link: plan.name, control: plan.control, token: this.deployment.admin.token };
    return (change === undefined ? await readLink(control) : await changeLink(control, change)).faults;
  }

  async pidOf(name: string): Promise<number | undefined> {
    const rec = readState(this.stateDir)?.servers[name];
    return Promise.resolve(rec && this.owns(rec.pid) ? rec.pid : undefined);
  }

  private async startAll(specs: ServerSpec[], state: RuntimeState): Promise<void> {
    await Promise.all(specs.map((s) => s.prepare()));
    // Read again after the awaits: concurrent start() calls of this runtime (a chaos schedule
    // restarting several brokers at once) must not overwrite each other's pids with a stale copy.
    const current = this.loadState();
    const launched = specs.map((spec) => {
      const offset = logSize(spec.logFile);
      const pid = startProcess(spec);
      state.servers[spec.name] = current.servers[spec.name] = { pid, startedAt: new Date().toISOString() };
      this.log.info({ server: spec.name, pid, log: spec.logFile }, 'starting');
      return { spec, pid, offset };
    });
    writeState(this.stateDir, current);
    const timeoutMs = this.deployment.runtime.readyTimeoutSec * 1000;
    await Promise.all(launched.map(({ spec, pid, offset }) => waitReady(spec, pid, offset, timeoutMs)));
  }

  private async each(target: string, fn: (spec: ServerSpec, pid: number) => Promise<void>): Promise<void> {
    const state = readState(this.stateDir);
    const specs = this.resolve(target);
    await Promise.all(
      specs.map(async (spec) => {
        const rec = state?.servers[spec.name];
        if (!rec || !this.owns(rec.pid)) throw new GeoError('RUNTIME_NOT_RUNNING', `${spec.name} is not running; start it with: npx georeplica start ${spec.name}`, { details: { server: spec.name } });
        await fn(spec, rec.pid);
      }),
    );
  }

  /** Alive and ours: the pid may have been reused by an unrelated process since we recorded it. */
  private owns(pid: number): boolean {
    return isAlive(pid) && hasMarker(pid, stateMarker(this.stateDir));
  }

  private loadState(): RuntimeState {
    const existing = readState(this.stateDir);
    return { version: 1, deployment: this.deployment, services: this.services, servers: existing?.servers ?? {} };
  }
}

function buildSpecs(d: Readonly<Deployment>, stateDir: string, services: boolean): ServerSpec[] {
  const kafkaJdk = findJdk(17, 'the Kafka brokers', 'GEOREPLICA_KAFKA_JAVA_HOME');
  const searchJdk = findJdk(21, 'OpenSearch 3', 'GEOREPLICA_OPENSEARCH_JAVA_HOME');
  const specs: ServerSpec[] = [];
  const jvmOptions = d.runtime.jit === 'quick' ? ['-XX:TieredStopAtLevel=1'] : [];
  for (const [region, cfg] of Object.entries(d.regions)) {
    cfg.kafka.bootstrap.forEach((_, index) => {
      // One extra listener per link proxy in front of this broker (none unless runtime.linkProxies is on).
      const links = linkPlans(d)
        .filter((p) => p.source === region)
        .flatMap((p) => {
          const b = p.brokers[index];
          return b ? [{ name: p.listenerName, port: b.listener.port, advertised: `${b.proxy.host}:${b.proxy.port}` }] : [];
        });
      specs.push(kafkaServerSpec({ region, index, bootstrap: cfg.kafka.bootstrap, stateDir, heapMb: d.runtime.kafkaHeapMb, jvmOptions, jdk: kafkaJdk, links }));
    });
    specs.push(openSearchServerSpec({ region, url: cfg.search.url, stateDir, heapMb: d.runtime.opensearchHeapMb, jvmOptions, jdk: searchJdk }));
  }
  for (const plan of linkPlans(d)) specs.push(linkServerSpec({ plan, stateDir, deployment: d }));
  if (services) for (const region of Object.keys(d.regions)) for (const service of SERVICES) specs.push(serviceSpec({ region, stateDir, deployment: d, service }));
  return specs;
}
