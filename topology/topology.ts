/**
 * The region model: an immutable view of the deployment's regions and the latencies between
 * them, with lookups that fail with UNKNOWN_REGION naming the valid regions.
 */
import type { Deployment, RegionConfig } from '../config/schema.ts';
import { GeoError } from '../core/errors.ts';
import { parseCidr } from './geo.ts';
import type { Cidr } from './geo.ts';

export interface Region extends RegionConfig {
  readonly name: string;
}

export class Topology {
  readonly regions: readonly Region[];
  readonly defaultRegion: string;
  /** Every region's client networks, parsed once: client-region resolution runs per search. */
  readonly networks: ReadonlyArray<{ readonly region: string; readonly block: Cidr }>;
  private readonly byName: ReadonlyMap<string, Region>;
  private readonly latency: ReadonlyMap<string, number>;

  constructor(deployment: Readonly<Deployment>) {
    this.regions = Object.freeze(Object.entries(deployment.regions).map(([name, cfg]) => Object.freeze({ name, ...cfg })));
    this.byName = new Map(this.regions.map((r) => [r.name, r]));
    this.defaultRegion = deployment.defaultRegion;
    // The schema validated every block, so none is skipped here in practice.
    this.networks = Object.freeze(
      this.regions.flatMap((r) =>
        r.clients.networks.flatMap((n) => {
          const block = parseCidr(n);
          return block === undefined ? [] : [{ region: r.name, block }];
        }),
      ),
    );
    const latency = new Map<string, number>();
    for (const [a, row] of Object.entries(deployment.latencies)) {
      for (const [b, ms] of Object.entries(row)) {
        latency.set(pairKey(a, b), ms);
      }
    }
    this.latency = latency;
  }

  get names(): readonly string[] {
    return this.regions.map((r) => r.name);
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  /** The region, or UNKNOWN_REGION listing the valid names. */
  region(name: string): Region {
    const r = this.byName.get(name);
    if (r === undefined) {
      throw new GeoError('UNKNOWN_REGION', `Unknown region "${name}". Valid regions: ${this.names.join(', ')}.`, { details: { region: name, valid: this.names } });
    }
    return r;
  }

  /** One-way latency in ms between two regions; 0 for a region and itself. */
  latencyMs(from: string, to: string): number {
    this.region(from);
    this.region(to);
    if (from === to) return 0;
    const ms = this.latency.get(pairKey(from, to));
    if (ms === undefined) throw new GeoError('INTERNAL', `No latency between ${from} and ${to}; the config validator should have refused this.`);
    return ms;
  }

  /** Every ordered pair of distinct regions: the replication flows. */
  flows(): Array<{ source: string; target: string }> {
    const out: Array<{ source: string; target: string }> = [];
    for (const s of this.names) for (const t of this.names) if (s !== t) out.push({ source: s, target: t });
    return out;
  }
}

function pairKey(a: string, b: string): string {
  return a < b ? `${a}|${b}` : `${b}|${a}`;
}
