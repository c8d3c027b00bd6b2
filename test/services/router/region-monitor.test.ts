import { describe, expect, it } from 'vitest';
import { RouterSchema } from '../../../config/schema.ts';
import { silentLogger } from '../../../core/logger.ts';
import type { ProbeResult } from '../../../services/router/health-prober.ts';
import { RegionMonitor } from '../../../services/router/region-monitor.ts';

const good: ProbeResult = { ok: true, status: 'ok', freshness: { a: 10 }, maxFreshnessMs: 10, ms: 2 };
const bad: ProbeResult = { ok: false, status: 'unreachable', freshness: {}, maxFreshnessMs: null, ms: 1 };

function monitor(clock: { t: number }): RegionMonitor {
  const settings = RouterSchema.parse({ slowStartMs: 2_000, probe: { rise: 1, fall: 1 } });
  return new RegionMonitor({ region: 'r', host: '127.0.0.1', port: 1, settings, log: silentLogger(), now: () => clock.t });
}

describe('RegionMonitor traffic phase', () => {
  it('takes full traffic at its first healthy probe: a router that just started has nothing to recover from', async () => {
    const clock = { t: 1_000 };
    const m = monitor(clock);
    expect(m.view().healthy).toBe(false);
    m.prober.record(good);
    clock.t += 10;
    expect(m.view()).toMatchObject({ healthy: true, phase: 'active', weight: 1 });
    await m.close();
  });

  it('ramps up over the slow-start window after it was unhealthy', async () => {
    const clock = { t: 1_000 };
    const m = monitor(clock);
    m.prober.record(good);
    m.view();
    m.prober.record(bad);
    expect(m.view().healthy).toBe(false);
    m.prober.record(good);
    expect(m.view()).toMatchObject({ healthy: true, phase: 'ramping', rampCause: 'recovery' });
    clock.t += 1_000;
    expect(m.view().weight).toBeCloseTo(0.55);
    clock.t += 1_000;
    expect(m.view()).toMatchObject({ phase: 'active', weight: 1 });
    await m.close();
  });
});
