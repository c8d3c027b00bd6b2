import { describe, expect, it } from 'vitest';
import { TokenBucket, defaultBurst } from '../../../topology/link-proxy/token-bucket.ts';

describe('TokenBucket', () => {
  it('lets the burst through at once, then makes each byte wait 1/rate seconds', () => {
    let now = 0;
    const bucket = new TokenBucket(1_000, 500, () => now);
    expect(bucket.reserve(500)).toBe(0);
    // The bucket is empty: 250 more bytes need 250 ms at 1000 B/s.
    expect(bucket.reserve(250)).toBeCloseTo(250);
    now = 250;
    // The debt was paid off at t=250; the next 100 bytes wait 100 ms.
    expect(bucket.reserve(100)).toBeCloseTo(100);
  });

  it('refills up to the burst and no further', () => {
    let now = 0;
    const bucket = new TokenBucket(1_000, 500, () => now);
    bucket.reserve(500);
    now = 10_000;
    expect(bucket.reserve(500)).toBe(0);
    expect(bucket.reserve(1)).toBeGreaterThan(0);
  });

  it('sends a chunk larger than the burst whole, later', () => {
    const bucket = new TokenBucket(1_000, 100, () => 0);
    expect(bucket.reserve(1_100)).toBeCloseTo(1_000);
  });

  it('bounds the bytes sent over any window by rate × window + burst', () => {
    let now = 0;
    const rate = 10_000;
    const burst = 2_000;
    const bucket = new TokenBucket(rate, burst, () => now);
    let sentBy1s = 0;
    // A sender that sends 700-byte chunks as soon as the bucket allows, for 1 s.
    for (;;) {
      const wait = bucket.reserve(700);
      now += wait;
      if (now > 1_000) break;
      sentBy1s += 700;
    }
    expect(sentBy1s).toBeLessThanOrEqual(rate + burst);
    expect(sentBy1s).toBeGreaterThan(rate - 700);
  });

  it('defaults the burst to 50 ms of the rate, at least 16 KiB', () => {
    expect(defaultBurst(1_000)).toBe(16 * 1024);
    expect(defaultBurst(10 * 1024 * 1024)).toBe(Math.round((10 * 1024 * 1024) / 20));
  });
});
