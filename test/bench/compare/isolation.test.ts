import { describe, expect, it } from 'vitest';
import { longestPause } from '../../../bench/compare/isolation.ts';

const samples = [
  { at: 0, sum: 0 },
  { at: 100, sum: 10 },
  { at: 200, sum: 10 },
  { at: 900, sum: 10 },
  { at: 1_000, sum: 50 },
  { at: 1_100, sum: 60 },
  { at: 1_500, sum: 60 },
];

describe('longestPause', () => {
  it('measures the longest time between changes in the window, from its start', () => {
    expect(longestPause(samples, 0, 0, Number.POSITIVE_INFINITY)).toBe(900); // 100 → 1,000
    expect(longestPause(samples, 150, 10, Number.POSITIVE_INFINITY)).toBe(850); // 150 → 1,000
    expect(longestPause(samples, 0, 0, 950)).toBe(100); // the change at 1,000 is outside the window
  });

  it('counts the time since the last change when progress had not finished', () => {
    expect(longestPause(samples, 1_050, 50, Number.POSITIVE_INFINITY)).toBe(50);
    expect(longestPause(samples, 1_050, 50, Number.POSITIVE_INFINITY, 3_100)).toBe(2_000);
  });
});
