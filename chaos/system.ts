/**
 * The system under test as the fault schedule sees it: the runtime's servers (brokers,
 * OpenSearch, link proxies) and the fleet's services, one namespace of targets, plus the
 * operations faults are made of: signals, restarts, link faults, drains.
 */
import type { Deployment } from '../config/schema.ts';
import { GeoError } from '../core/errors.ts';
import { kafkaClient } from '../core/kafka.ts';
import type { Logger } from '../core/logger.ts';
import { sleep } from '../core/retry.ts';
import type { RouterStatus } from '../services/router/router-status.ts';
import type { LinkFaultsChange } from '../topology/link-proxy/link-faults.ts';
import type { LocalRuntime } from '../topology/runtime/local-runtime.ts';
import type { Fleet } from './fleet.ts';

export type SignalAction = 'kill' | 'stop' | 'pause' | 'resume' | 'start';

export class ChaosSystem {
  private readonly drained = new Set<string>();
  private readonly faultyLinks = new Set<string>();
  private readonly downOnPurpose = new Set<string>();
  private readonly log: Logger;

  constructor(
    readonly runtime: LocalRuntime,
    readonly fleet: Fleet,
    log: Logger,
  ) {
    this.log = log.child({ component: 'chaos-system' });
  }

  get deployment(): Readonly<Deployment> {
    return this.fleet.deployment;
  }

  /** Server names a target stands for: a fleet service, a runtime server or group, or "<region>/kafka-leader". */
  async resolve(target: string): Promise<string[]> {
    if (this.fleet.has(target)) return [target];
    const leader = /^([a-z][a-z0-9-]*)\/kafka-leader$/.exec(target);
    if (leader?.[1]) return [await this.leaderOf(leader[1])];
    return this.runtime.resolve(target).map((s) => s.name);
  }

  async signal(action: SignalAction, names: readonly string[]): Promise<void> {
    // Marked before the signal, so the supervisor never mistakes the fault for a crash.
    if (action === 'kill' || action === 'stop') for (const n of names) this.downOnPurpose.add(n);
    await Promise.all(
      names.map(async (name) => {
        if (this.fleet.has(name)) await this.fleet[action](name);
        else await this.runtime[action](name);
      }),
    );
    if (action === 'start') for (const n of names) this.downOnPurpose.delete(n);
    this.log.info({ action, servers: names }, 'fault action');
  }

  /** Whether a fault took the server down (so its being down is no crash). */
  isDownOnPurpose(name: string): boolean {
    return this.downOnPurpose.has(name);
  }

  /** The log file of a server, fleet or runtime. */
  logFileOf(name: string): string | undefined {
    if (this.fleet.has(name)) return this.fleet.logFile(name);
    return this.runtime.resolve(name)[0]?.logFile;
  }

  async link(name: string, change: Readonly<LinkFaultsChange> | 'clear'): Promise<void> {
    const [source, target] = name.split('->');
    if (!source || !target) throw new GeoError('INVALID_ARGUMENT', `A link is "<source>-><target>"; got "${name}".`);
    // Tracked before the call: a change whose answer timed out may still have taken effect, and
    // a link left blackholed would break every later scenario (and test) that goes through it.
    if (change !== 'clear') this.faultyLinks.add(name);
    await this.runtime.link(source, target, change);
    if (change === 'clear') this.faultyLinks.delete(name);
  }

  /** Drains a region through a router; resolves when every router has it drained with nothing in flight. */
  async drain(region: string, reason: string): Promise<void> {
    // Tracked before the call, for the same reason as a link: a drain whose answer was lost may have happened.
    this.drained.add(region);
    await this.routerAdmin(`/admin/regions/${encodeURIComponent(region)}/drain`, { reason, by: 'georeplica-chaos' });
    await this.waitForRouters(region, (r) => r.phase === 'drained' && r.inFlight === 0, 30_000);
  }

  /** Undrains a region; resolves once the routers take it back (it then ramps up by slow start). */
  async undrain(region: string): Promise<void> {
    await this.routerAdmin(`/admin/regions/${encodeURIComponent(region)}/undrain`, { reason: 'chaos fault over', by: 'georeplica-chaos' });
    this.drained.delete(region);
  }

  isDrained(region: string): boolean {
    return this.drained.has(region);
  }

  /**
   * Whatever the schedule left behind: start the dead, resume the paused, clear links, undrain.
   * Never throws: what it could not repair is listed ("failed: ...") and logged, and the checks
   * that follow will show its consequences.
   */
  async healAll(): Promise<string[]> {
    const done: string[] = [];
    const attempt = async (what: string, fn: () => Promise<unknown>): Promise<void> => {
      try {
        await fn();
        done.push(what);
      } catch (err) {
        done.push(`failed: ${what}: ${(err as Error).message.split('\n')[0] ?? ''}`);
      }
    };
    const status = await this.runtime.status();
    for (const s of status.filter((x) => x.process === 'paused')) await attempt(`resumed ${s.name}`, () => this.runtime.resume(s.name));
    const dead = status.filter((x) => x.process !== 'running' && x.process !== 'paused').map((x) => x.name);
    // Started together: a broker alone cannot become ready without a quorum of its region's controllers.
    await Promise.all(dead.map((name) => attempt(`started ${name}`, () => this.runtime.start(name))));
    for (const name of dead) this.downOnPurpose.delete(name);
    for (const name of this.fleet.names) {
      const state = this.fleet.state(name);
      if (state === 'paused') await attempt(`resumed ${name}`, () => this.fleet.resume(name));
      else if (state === 'dead') {
        await attempt(`started ${name}`, () => this.fleet.start(name));
        this.downOnPurpose.delete(name);
      }
    }
    for (const link of [...this.faultyLinks]) await attempt(`cleared ${link}`, () => this.link(link, 'clear'));
    for (const region of [...this.drained]) await attempt(`undrained ${region}`, () => this.undrain(region));
    if (done.length > 0) this.log.warn({ healed: done }, 'healed what the schedule left behind');
    return done;
  }

  /** The broker leading the most partitions of the region's documents topic (lowest node id on a tie). */
  async leaderOf(region: string): Promise<string> {
    const bootstrap = this.deployment.regions[region]?.kafka.bootstrap;
    if (!bootstrap) throw new GeoError('UNKNOWN_REGION', `Unknown region "${region}". Valid regions: ${Object.keys(this.deployment.regions).join(', ')}.`);
    const admin = kafkaClient({ bootstrap, clientId: 'chaos-leader-lookup', log: this.log }).admin();
    await admin.connect();
    try {
      const meta = await admin.fetchTopicMetadata({ topics: [this.deployment.topics.documents] });
      const counts = new Map<number, number>();
      for (const p of meta[0]?.partitions ?? []) counts.set(p.leader, (counts.get(p.leader) ?? 0) + 1);
      const [leader] = [...counts.entries()].sort((a, b) => b[1] - a[1] || a[0] - b[0])[0] ?? [1];
      return `${region}/kafka-${leader - 1}`;
    } finally {
      await admin.disconnect();
    }
  }

  /** Waits until every partition of every topic in the region has all its replicas in sync. */
  async waitInSync(region: string, timeoutMs: number): Promise<void> {
    const bootstrap = this.deployment.regions[region]?.kafka.bootstrap ?? [];
    const admin = kafkaClient({ bootstrap, clientId: 'chaos-isr-check', log: this.log }).admin();
    await admin.connect();
    const deadline = Date.now() + timeoutMs;
    try {
      for (;;) {
        const lagging = await admin
          .fetchTopicMetadata({ timeout: 5_000 })
          .then((topics) => topics.flatMap((t) => t.partitions.filter((p) => p.isr.length < p.replicas.length).map((p) => `${t.name}/${p.partitionId}`)))
          .catch((err: unknown) => [`metadata unavailable: ${(err as Error).message}`]);
        if (lagging.length === 0) return;
        if (Date.now() > deadline) throw new GeoError('TIMEOUT', `Replicas of ${region} not back in sync after ${timeoutMs / 1000} s: ${lagging.slice(0, 5).join(', ')}${lagging.length > 5 ? ', ...' : ''}`);
        await sleep(500);
      }
    } finally {
      await admin.disconnect();
    }
  }

  routerUrls(): string[] {
    return this.fleet.names.filter((n) => n.endsWith('/router')).map((n) => this.fleet.url(n));
  }

  private async routerAdmin(path: string, body: Record<string, string>): Promise<void> {
    const failures: string[] = [];
    for (const base of this.routerUrls()) {
      try {
        const res = await fetch(`${base}${path}`, { method: 'POST', headers: { authorization: `Bearer ${this.deployment.admin.token}`, 'content-type': 'application/json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(5_000) });
        if (res.ok) return;
        failures.push(`${base}: ${res.status} ${await res.text()}`);
      } catch (err) {
        failures.push(`${base}: ${(err as Error).message}`);
      }
    }
    throw new GeoError('RUNTIME_NOT_RUNNING', `No router took ${path}: ${failures.join('; ')}`);
  }

  private async waitForRouters(region: string, done: (r: RouterStatus['regions'][number]) => boolean, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const views = await Promise.all(this.routerUrls().map(async (u) => ((await fetch(`${u}/status`, { signal: AbortSignal.timeout(2_000) }).then((r) => r.json()).catch(() => undefined)) as RouterStatus | undefined)?.regions.find((r) => r.region === region)));
      const seen = views.filter((v) => v !== undefined);
      if (seen.length > 0 && seen.every(done)) return;
      await sleep(200);
    }
    throw new GeoError('TIMEOUT', `The routers did not report ${region} drained within ${timeoutMs / 1000} s.`);
  }
}
