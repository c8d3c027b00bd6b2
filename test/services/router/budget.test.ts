import { describe, expect, it } from 'vitest';
import { Budget } from '../../../services/router/budget.ts';
import { RateWindow } from '../../../services/router/rate-window.ts';

describe('RateWindow', () => {
  it('counts events of the last window seconds only', () => {
    let now = 1_000_000;
    const w = new RateWindow(10, () => now);
    w.add(3);
    now += 5_000;
    w.add(2);
    expect(w.total()).toBe(5);
    now += 5_000; // the first bucket is 10 s old now
    expect(w.total()).toBe(2);
    now += 60_000;
    expect(w.total()).toBe(0);
  });
});

describe('Budget', () => {
  it('allows ratio × live requests + minPerSec × window extra requests, and no more', () => {
    let now = 0;
    const b = new Budget({ ratio: 0.2, minPerSec: 1, windowSec: 10, now: () => now });
    for (let i = 0; i < 100; i++) b.recordRequest();
    // 0.2 × 100 + 1 × 10 = 30.
    let granted = 0;
    for (let i = 0; i < 100; i++) if (b.tryAcquire()) granted++;
    expect(granted).toBe(30);
    expect(b.snapshot()).toEqual({ requests: 100, used: 30, denied: 70, allowed: 30 });
    now += 11_000;
    expect(b.snapshot()).toEqual({ requests: 0, used: 0, denied: 0, allowed: 10 });
  });

  it('with no floor and no traffic allows nothing', () => {
    const b = new Budget({ ratio: 0.5, minPerSec: 0, now: () => 0 });
    expect(b.tryAcquire()).toBe(false);
  });
});
