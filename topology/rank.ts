/**
 * Orders regions nearest-first from a client's region: the routing and failover preference.
 * Configured latencies give a stable order; measured round trips, when supplied, refine it.
 */
import { GeoError } from '../core/errors.ts';
import { resolveClientRegion } from './client-region.ts';
import type { ClientHints, ClientRegion } from './client-region.ts';
import type { Topology } from './topology.ts';

export interface RankedRegion {
  readonly region: string;
  /** The configured one-way latency from the client's region (0 for the region itself). */
  readonly latencyMs: number;
}

export interface RankOptions {
  /** Recently measured round-trip times by region; regions without a measurement keep their configured estimate. */
  readonly measuredRttMs?: ReadonlyMap<string, number>;
  /** How much the measurement counts, 0 (ignore) to 1 (measurement only); 0.5 by default. */
  readonly measuredWeight?: number;
}

export const DEFAULT_MEASURED_WEIGHT = 0.5;

/**
 * Every region, nearest first; ties go to the alphabetically first name. Unknown `fromRegion`
 * throws UNKNOWN_REGION; a weight outside 0-1 or a negative or NaN measurement throws INVALID_ARGUMENT.
 */
export function rankRegions(topology: Topology, fromRegion: string, options: RankOptions = {}): RankedRegion[] {
  topology.region(fromRegion);
  const measured = options.measuredRttMs;
  const weight = options.measuredWeight ?? DEFAULT_MEASURED_WEIGHT;
  if (!(weight >= 0 && weight <= 1)) {
    throw new GeoError('INVALID_ARGUMENT', `measuredWeight: got ${String(weight)}; expected a number between 0 and 1`, { details: { field: 'measuredWeight', value: weight } });
  }
  const scored = topology.names.map((region) => {
    const latencyMs = topology.latencyMs(fromRegion, region);
    const expectedRtt = 2 * latencyMs;
    const rtt = measured?.get(region);
    if (rtt !== undefined && !(rtt >= 0)) {
      throw new GeoError('INVALID_ARGUMENT', `measuredRttMs.${region}: got ${String(rtt)}; expected a round-trip time ≥ 0 ms`, { details: { field: `measuredRttMs.${region}`, value: rtt } });
    }
    // score = (1 - w) × 2 × configured one-way latency + w × measured RTT (both round trips, in ms).
    // Weight 0 must ignore the measurement outright: 0 × Infinity (an unreachable region) is NaN.
    const score = rtt === undefined || weight === 0 ? expectedRtt : (1 - weight) * expectedRtt + weight * rtt;
    return { region, latencyMs, score };
  });
  scored.sort((a, b) => a.score - b.score || compareNames(a.region, b.region));
  return scored.map(({ region, latencyMs }) => ({ region, latencyMs }));
}

export interface ClientRanking extends ClientRegion {
  readonly ranking: RankedRegion[];
}

/** resolveClientRegion, then rankRegions from the region found; keeps the reason for logs and responses. */
export function rankForClient(topology: Topology, client: ClientHints, options: RankOptions = {}): ClientRanking {
  const home = resolveClientRegion(topology, client);
  return { ...home, ranking: rankRegions(topology, home.region, options) };
}

/** Code-unit order, not localeCompare, so the ranking is the same on every machine. */
function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
