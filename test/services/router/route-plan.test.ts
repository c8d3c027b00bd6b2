import { describe, expect, it } from 'vitest';
import { planRoute } from '../../../services/router/route-plan.ts';
import type { RegionView } from '../../../services/router/route-plan.ts';

const RANKING = ['us-east', 'eu-west', 'ap-southeast'];

function views(over: Record<string, Partial<RegionView>> = {}): Map<string, RegionView> {
  return new Map(
    RANKING.map((region) => [region, { region, healthy: true, ejected: false, phase: 'active', weight: 1, rampCause: undefined, fresh: true, maxFreshnessMs: 100, lagSumMs: 200, ...over[region] } satisfies RegionView]),
  );
}

const order = (p: ReturnType<typeof planRoute>): string[] => p.candidates.map((c) => `${c.region}:${c.reason}`);

describe('planRoute', () => {
  it('sends to the nearest region first, then the others in ranking order as failover', () => {
    const p = planRoute(RANKING, views());
    expect(order(p)).toEqual(['us-east:nearest', 'eu-west:failover', 'ap-southeast:failover']);
    expect(p.skipCause).toBeUndefined();
  });

  it.each([
    [{ healthy: false }, 'unhealthy'],
    [{ ejected: true }, 'ejected'],
  ] as const)('skips a nearest region that is %o (cause %s)', (over, cause) => {
    const p = planRoute(RANKING, views({ 'us-east': over }));
    expect(order(p)).toEqual(['eu-west:failover', 'ap-southeast:failover']);
    expect(p.skipCause).toBe(cause);
  });

  it('marks traffic moved off a drained or catching-up region as drained, and never sends it there', () => {
    for (const phase of ['drained', 'catching-up'] as const) {
      const p = planRoute(RANKING, views({ 'us-east': { phase, weight: 0 } }));
      expect(order(p)).toEqual(['eu-west:drained', 'ap-southeast:drained']);
      expect(p.skipCause).toBe('drained');
    }
  });

  it('puts a healthy but stale region after every fresh one', () => {
    const p = planRoute(RANKING, views({ 'us-east': { fresh: false, maxFreshnessMs: 9_000 } }));
    expect(order(p)).toEqual(['eu-west:failover', 'ap-southeast:failover', 'us-east:stale']);
    expect(p.skipCause).toBe('stale');
  });

  it('serves the least stale healthy region when none is fresh, unknown freshness last', () => {
    const p = planRoute(
      RANKING,
      views({
        'us-east': { fresh: false, maxFreshnessMs: null, lagSumMs: 3_600_000 },
        'eu-west': { fresh: false, maxFreshnessMs: 20_000, lagSumMs: 20_500 },
        'ap-southeast': { fresh: false, maxFreshnessMs: 7_000, lagSumMs: 7_800 },
      }),
    );
    expect(order(p)).toEqual(['ap-southeast:stale', 'eu-west:stale', 'us-east:stale']);
    expect(p.candidates.every((c) => c.stale)).toBe(true);
  });

  it('ranks a region behind every source stalest, even when one source is as old everywhere (that source\'s brokers died)', () => {
    // us-east's brokers died 8 s ago (bound 8 s): everyone is ~8 s behind us-east, but us-east is
    // ~8 s behind both others too. Just past the bound, us-east's worst source is the youngest of
    // the three: only the sum over sources ranks it right.
    const p = planRoute(
      RANKING,
      views({
        'us-east': { fresh: false, maxFreshnessMs: 8_100, lagSumMs: 8_100 + 7_900 },
        'eu-west': { fresh: false, maxFreshnessMs: 8_400, lagSumMs: 8_400 + 600 },
        'ap-southeast': { fresh: false, maxFreshnessMs: 8_300, lagSumMs: 8_300 + 700 },
      }),
    );
    expect(order(p)).toEqual(['ap-southeast:stale', 'eu-west:stale', 'us-east:stale']);
  });

  it('offers nothing when every region is unhealthy, ejected or drained (the caller serves the cache)', () => {
    const p = planRoute(RANKING, views({ 'us-east': { healthy: false }, 'eu-west': { ejected: true }, 'ap-southeast': { phase: 'drained', weight: 0 } }));
    expect(p.candidates).toEqual([]);
  });

  it('lets a ramping region keep its place with probability = its weight', () => {
    const ramping = views({ 'us-east': { phase: 'ramping', weight: 0.3, rampCause: 'undrain' } });
    expect(order(planRoute(RANKING, ramping, () => 0.29))).toEqual(['us-east:nearest', 'eu-west:failover', 'ap-southeast:failover']);
    const diverted = planRoute(RANKING, ramping, () => 0.3);
    expect(order(diverted)).toEqual(['eu-west:drained', 'us-east:nearest', 'ap-southeast:drained']);
    expect(diverted.skipCause).toBe('slow-start');
    // After a recovery (not a drain) the diverted traffic is a failover.
    const recovering = views({ 'us-east': { phase: 'ramping', weight: 0.3, rampCause: 'recovery' } });
    expect(order(planRoute(RANKING, recovering, () => 0.9))[0]).toBe('eu-west:failover');
  });

  it('keeps a ramping region when it is the only eligible one', () => {
    const p = planRoute(RANKING, views({ 'us-east': { phase: 'ramping', weight: 0.1 }, 'eu-west': { healthy: false }, 'ap-southeast': { healthy: false } }), () => 0.99);
    expect(order(p)).toEqual(['us-east:nearest']);
  });
});
