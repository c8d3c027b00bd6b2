import { describe, expect, it } from 'vitest';
import { Ewma, LatencyWindow } from '../../../services/router/latency-tracker.ts';

describe('latency statistics', () => {
  it('EWMA takes the first sample as is, then blends', () => {
    const e = new Ewma(0.5);
    expect(e.value).toBeUndefined();
    e.add(10);
    e.add(20);
    expect(e.value).toBe(15);
  });

  it('p95 of the recent window, none below the minimum sample count', () => {
    const w = new LatencyWindow(100, 20);
    for (let i = 1; i <= 19; i++) w.add(i);
    expect(w.p95()).toBeUndefined();
    for (let i = 20; i <= 100; i++) w.add(i);
    expect(w.p95()).toBe(95);
  });
});
