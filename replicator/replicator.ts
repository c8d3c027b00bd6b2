/**
 * A replicator process for one target region: it pulls every other region's topics into its
 * own region (one independent Flow per source), sends its region's heartbeats, and tracks how
 * fresh its copies are. Run it next to the target cluster: producing locally keeps transaction
 * commits cheap, and only the consumer crosses the WAN.
 */
import { randomUUID } from 'node:crypto';
import { remoteBootstrap } from '../config/link-plan.ts';
import type { Deployment } from '../config/schema.ts';
import { GeoError } from '../core/errors.ts';
import { kafkaClient } from '../core/kafka.ts';
import type { Logger } from '../core/logger.ts';
import { Flow } from './flow.ts';
import type { FlowStatus } from './flow.ts';
import { FreshnessTracker, HeartbeatEmitter } from './heartbeats.ts';
import { ReplicatorMetrics } from './metrics.ts';
import { namingPolicy } from './naming-policy.ts';

export interface ReplicatorOptions {
  deployment: Readonly<Deployment>;
  /** The region this process replicates into. */
  region: string;
  /** Limit to these source regions (default: all others). */
  sources?: readonly string[];
  log: Logger;
  metrics?: ReplicatorMetrics;
}

export interface ReplicatorStatus {
  region: string;
  mode: string;
  naming: string;
  flows: FlowStatus[];
  /** Milliseconds since the newest heartbeat copied from each source region. */
  freshnessMs: Record<string, number>;
}

export class Replicator {
  readonly metrics: ReplicatorMetrics;
  readonly region: string;
  private readonly flows: Flow[];
  private readonly heartbeat: HeartbeatEmitter;
  private readonly freshness: FreshnessTracker;
  private readonly o: ReplicatorOptions;
  private freshnessTimer: NodeJS.Timeout | undefined;

  constructor(o: ReplicatorOptions) {
    const d = o.deployment;
    const target = d.regions[o.region];
    if (!target) throw new GeoError('UNKNOWN_REGION', `Unknown region "${o.region}". Valid regions: ${Object.keys(d.regions).join(', ')}.`, { details: { region: o.region } });
    this.o = o;
    this.region = o.region;
    this.metrics = o.metrics ?? new ReplicatorMetrics();
    const regions = Object.keys(d.regions);
    const sources = (o.sources ?? regions.filter((r) => r !== o.region)).filter((r) => r !== o.region);
    for (const s of sources) if (!d.regions[s]) throw new GeoError('UNKNOWN_REGION', `Unknown source region "${s}". Valid regions: ${regions.join(', ')}.`);
    const log = o.log.child({ component: 'replicator', region: o.region });
    this.flows = sources.map(
      (s) =>
        new Flow({
          // Through the link proxy s->region when the runtime has them, so link faults hit this flow.
          source: { name: s, bootstrap: remoteBootstrap(d, s, o.region) },
          target: { name: o.region, bootstrap: target.kafka.bootstrap },
          regions,
          heartbeatTopic: d.topics.heartbeats,
          config: d.replication,
          metrics: this.metrics,
          log,
        }),
    );
    const local = kafkaClient({ bootstrap: target.kafka.bootstrap, clientId: `replicator-${o.region}`, log });
    this.heartbeat = new HeartbeatEmitter({ kafka: local, region: o.region, topic: d.topics.heartbeats, intervalMs: d.replication.heartbeatIntervalMs, log });
    const policy = namingPolicy({ naming: d.replication.naming, include: d.replication.include, exclude: d.replication.exclude, regions, instance: d.replication.instance });
    const copies = [...new Set(sources.map((s) => policy.targetTopic(s, d.topics.heartbeats)))];
    this.freshness = new FreshnessTracker({ kafka: local, topics: copies, groupId: `${d.replication.instance}.freshness.${o.region}.${randomUUID().slice(0, 8)}`, log });
  }

  get deployment(): Readonly<Deployment> {
    return this.o.deployment;
  }

  start(): void {
    for (const f of this.flows) f.start();
    this.heartbeat.start();
    this.freshness.start();
    this.freshnessTimer = setInterval(() => {
      for (const [source, ms] of Object.entries(this.freshness.freshnessMs())) if (source !== this.region) this.metrics.freshness.set({ source, target: this.region }, ms / 1000);
    }, 1_000);
    this.freshnessTimer.unref();
  }

  async stop(): Promise<void> {
    if (this.freshnessTimer) clearInterval(this.freshnessTimer);
    await Promise.all([...this.flows.map((f) => f.stop()), this.heartbeat.stop(), this.freshness.stop()]);
  }

  status(): ReplicatorStatus {
    const fresh = this.freshness.freshnessMs();
    delete fresh[this.region];
    return { region: this.region, mode: this.o.deployment.replication.mode, naming: this.o.deployment.replication.naming, flows: this.flows.map((f) => f.status()), freshnessMs: fresh };
  }

  flow(source: string, target: string): Flow {
    const f = this.findFlow(source, target);
    if (!f) throw new GeoError('INVALID_ARGUMENT', `No flow ${source}->${target} in this replicator (it runs: ${this.flowIds().join(', ')}).`, { details: { source, target, flows: this.flowIds() } });
    return f;
  }

  /** The flow source->target, or undefined when this process does not run it. */
  findFlow(source: string, target: string): Flow | undefined {
    return this.flows.find((x) => x.id === `${source}->${target}`);
  }

  /** Ids ("source->target") of the flows this process runs. */
  flowIds(): string[] {
    return this.flows.map((f) => f.id);
  }

  /** Throws UNKNOWN_REGION (listing the valid regions) unless `region` is part of the deployment. */
  assertRegion(region: string): void {
    const regions = Object.keys(this.o.deployment.regions);
    if (!this.o.deployment.regions[region]) throw new GeoError('UNKNOWN_REGION', `Unknown region "${region}". Valid regions: ${regions.join(', ')}.`, { details: { region, validRegions: regions } });
  }

  /** Flows touching `region` as source or target. */
  flowsTouching(region: string): Flow[] {
    this.assertRegion(region);
    return this.flows.filter((f) => f.id.startsWith(`${region}->`) || f.id.endsWith(`->${region}`));
  }
}
