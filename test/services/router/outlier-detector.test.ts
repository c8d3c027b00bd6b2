import { describe, expect, it } from 'vitest';
import { OutlierDetector } from '../../../services/router/outlier-detector.ts';

describe('OutlierDetector', () => {
  it('ejects after consecutive errors only, for base × n, capped, and forgets after a quiet period', () => {
    let now = 0;
    const d = new OutlierDetector({ consecutiveErrors: 3, baseEjectionMs: 1_000, maxEjectionMs: 2_500, now: () => now });
    expect(d.failure()).toBeUndefined();
    expect(d.failure()).toBeUndefined();
    d.success(); // resets the run
    expect(d.failure()).toBeUndefined();
    expect(d.failure()).toBeUndefined();
    expect(d.failure()).toEqual({ until: 1_000, durationMs: 1_000, count: 1 });
    expect(d.isEjected()).toBe(true);
    // Failures while ejected (tries already in flight) do not extend it.
    expect(d.failure()).toBeUndefined();
    now = 1_000;
    expect(d.isEjected()).toBe(false);
    d.failure();
    d.failure();
    expect(d.failure()).toEqual({ until: 3_000, durationMs: 2_000, count: 2 });
    now = 3_000;
    d.failure();
    d.failure();
    expect(d.failure()?.durationMs).toBe(2_500); // 3 × 1000, capped at 2500
    now = 5_500 + 2_500 + 1; // quiet for longer than max ejection after it ended
    d.failure();
    d.failure();
    expect(d.failure()).toMatchObject({ durationMs: 1_000, count: 1 });
  });
});
