import { describe, expect, it } from 'vitest';
import { rampWeight, TrafficState } from '../../../services/router/traffic-phase.ts';

describe('TrafficState', () => {
  it('drain → catching up until the gate opens → ramping over the slow-start window → active', () => {
    const t = new TrafficState(10_000);
    expect(t.phase()).toBe('active');
    t.setDrained(true);
    expect([t.phase(), t.weight(0)]).toEqual(['drained', 0]);
    t.setDrained(false);
    t.tick(1_000, false);
    expect([t.phase(), t.weight(1_000)]).toEqual(['catching-up', 0]);
    t.tick(2_000, true);
    expect(t.phase()).toBe('ramping');
    expect(t.rampCause()).toBe('undrain');
    expect(t.weight(2_000)).toBeCloseTo(0.1);
    expect(t.weight(7_000)).toBeCloseTo(0.55);
    t.tick(12_000, true);
    expect([t.phase(), t.weight(12_000)]).toEqual(['active', 1]);
  });

  it('a drain read at startup is applied; an undrained region at startup is simply active', () => {
    const t = new TrafficState(10_000);
    t.setDrained(true, true);
    expect(t.phase()).toBe('drained');
    const u = new TrafficState(10_000);
    u.setDrained(false, true);
    expect(u.phase()).toBe('active');
  });

  it('ramps a region that recovered, but not while drained', () => {
    const t = new TrafficState(1_000);
    t.recovered(0);
    expect([t.phase(), t.rampCause()]).toEqual(['ramping', 'recovery']);
    t.setDrained(true);
    t.recovered(10);
    expect(t.phase()).toBe('drained');
  });

  it('rampWeight starts at 10 % and reaches 100 % at the end of the window; no window means full weight', () => {
    expect(rampWeight(0, 0, 1_000)).toBeCloseTo(0.1);
    expect(rampWeight(0, 999, 1_000)).toBeLessThan(1);
    expect(rampWeight(0, 1_000, 1_000)).toBe(1);
    expect(rampWeight(0, 0, 0)).toBe(1);
  });
});
