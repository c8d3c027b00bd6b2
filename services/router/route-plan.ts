/**
 * Which regions a search may go to, in order: pure, so every rule is unit-tested.
 *
 * From the client's ranking (nearest first), a region is eligible when it is healthy, not
 * ejected, takes traffic (not drained, not waiting at the catch-up gate) and is fresh. A region
 * ramping up (slow start) keeps its place with probability = its weight and otherwise yields
 * to the next eligible region. Healthy regions that are only too stale follow, least stale first:
 * when nothing is fresh they serve, marked stale, because staleness alone never fails a search.
 */
import type { RampCause, TrafficPhase } from './traffic-phase.ts';

export type RouteReason = 'nearest' | 'failover' | 'drained' | 'stale' | 'cache';

export interface RegionView {
  region: string;
  healthy: boolean;
  ejected: boolean;
  phase: TrafficPhase;
  /** Share of its traffic a ramping region takes, 0-1. */
  weight: number;
  rampCause: RampCause | undefined;
  fresh: boolean;
  /** The largest freshness over its sources; null when any is unknown. */
  maxFreshnessMs: number | null;
  /**
   * Its freshness summed over its sources (unknown counts as very far). Orders stale regions:
   * when one region's brokers die, every region falls behind that one source, but the dead
   * region itself falls behind all the others, so it must rank stalest. A sum past the bound
   * only would not do: just after the bound is crossed it is noise, and a region one source
   * behind could rank below the dead one.
   */
  lagSumMs: number;
}

export interface Candidate {
  region: string;
  /** Why a response served by this candidate went there. */
  reason: RouteReason;
  stale: boolean;
}

export interface RoutePlan {
  nearest: string;
  candidates: Candidate[];
  /** Why the nearest region was passed over (undefined when it is the first candidate). */
  skipCause: SkipCause | undefined;
}

export type SkipCause = 'unhealthy' | 'ejected' | 'drained' | 'stale' | 'slow-start';

/** `random` decides slow-start diversions; injected so tests are deterministic. */
export function planRoute(ranking: readonly string[], views: ReadonlyMap<string, RegionView>, random: () => number = Math.random): RoutePlan {
  const nearest = ranking[0] ?? '';
  const eligible: RegionView[] = [];
  const stale: RegionView[] = [];
  let nearestCause: SkipCause | undefined;
  for (const region of ranking) {
    const v = views.get(region);
    if (v === undefined) continue;
    const cause = exclusion(v);
    if (cause === undefined) eligible.push(v);
    else if (cause === 'stale') stale.push(v);
    if (region === nearest) nearestCause = cause;
  }

  // Slow start: a ramping region yields its place to the next eligible one with probability 1 - weight.
  for (let i = 0; i < eligible.length - 1; i++) {
    const v = eligible[i] as RegionView;
    if (v.weight < 1 && random() >= v.weight) {
      eligible[i] = eligible[i + 1] as RegionView;
      eligible[i + 1] = v;
      if (v.region === nearest) nearestCause = 'slow-start';
      i++;
    }
  }

  const nearestDrained = nearestCause === 'drained' || (nearestCause === 'slow-start' && views.get(nearest)?.rampCause === 'undrain');
  const away: RouteReason = nearestDrained ? 'drained' : 'failover';
  const candidates: Candidate[] = eligible.map((v) => ({ region: v.region, reason: v.region === nearest ? 'nearest' : away, stale: false }));
  // Least behind over all sources first, then the smallest worst source; ties keep ranking order (sort is stable).
  stale.sort((a, b) => a.lagSumMs - b.lagSumMs || staleness(a) - staleness(b));
  for (const v of stale) candidates.push({ region: v.region, reason: 'stale', stale: true });
  return { nearest, candidates, skipCause: candidates[0]?.region === nearest ? undefined : (nearestCause ?? 'unhealthy') };
}

/** Why a region is not eligible, or undefined when it is. */
function exclusion(v: RegionView): SkipCause | undefined {
  if (!v.healthy) return 'unhealthy';
  if (v.ejected) return 'ejected';
  if (v.phase === 'drained' || v.phase === 'catching-up') return 'drained';
  if (!v.fresh) return 'stale';
  return undefined;
}

function staleness(v: RegionView): number {
  return v.maxFreshnessMs ?? Number.MAX_SAFE_INTEGER;
}
