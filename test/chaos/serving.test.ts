import { describe, expect, it } from 'vitest';
import type { FaultEvent } from '../../chaos/fault-schedule.ts';
import type { SearchRecord } from '../../chaos/search-load.ts';
import { faultFigures, summarizeFreshness, summarizeSearches } from '../../chaos/serving.ts';

function s(startedAt: number, ok: boolean, o: Partial<SearchRecord> = {}): SearchRecord {
  return { startedAt, endedAt: startedAt + 50, clientRegion: 'a', ok, status: ok ? 200 : 503, servedBy: ok ? 'a' : undefined, freshnessMs: undefined, via: 'r', ...o };
}

describe('serving figures', () => {
  it('availability is successes over all searches; the longest error stretch runs from the first failure to the end of the last in a row', () => {
    const records = [s(0, true), s(100, false), s(200, false), s(300, true), s(400, false), s(500, true)];
    const sum = summarizeSearches(records);
    expect(sum.availability).toBeCloseTo(3 / 6);
    expect(sum.longestErrorStretchMs).toBe(150);
    expect(summarizeSearches([]).availability).toBe(1);
  });

  it('counts failed searches by client region and error, most frequent first', () => {
    const records = [s(0, false, { error: 'HTTP 503' }), s(1, false, { clientRegion: 'b', error: 'timeout' }), s(2, true), s(3, false, { clientRegion: 'b', error: 'timeout' }), s(4, false)];
    expect(Object.entries(summarizeSearches(records).failures)).toEqual([['b: timeout', 2], ['a: HTTP 503', 1], ['a: unknown', 1]]);
    expect(summarizeSearches(records).failedBetweenMs).toEqual([0, 4]);
    expect(summarizeSearches([s(0, true)]).failedBetweenMs).toBeUndefined();
  });

  it('measures per fault the errors around it, how soon its region was served elsewhere, and how soon writes flowed again', () => {
    const event: FaultEvent = { fault: 0, action: 'kill', target: 'a/opensearch', servers: ['a/opensearch'], startedAt: 1_000, healIssuedAt: 5_000, healedAt: 6_000 };
    const searches = [s(900, true), s(1_100, false), s(1_300, true, { servedBy: 'b', endedAt: 1_700 }), s(20_000, false)];
    const probes = [
      { id: 'p1', from: 'b', ackedAt: 4_000, lagMs: { a: 100 } },
      { id: 'p2', from: 'b', ackedAt: 5_500, lagMs: { a: 700 } },
    ];
    const [f] = faultFigures([event], searches, probes, ['a', 'b']);
    expect(f).toMatchObject({ searchErrors: 1, failoverMs: 700, recoveryMs: 1_200 });
  });

  it('freshness: the largest and median lag over every probe and region, and probes never seen', () => {
    const f = summarizeFreshness(
      [
        { id: 'p1', from: 'a', ackedAt: 0, lagMs: { b: 100, c: 300 } },
        { id: 'p2', from: 'b', ackedAt: 0, lagMs: { a: 200, c: undefined } },
      ],
      ['a', 'b', 'c'],
    );
    expect(f).toEqual({ probes: 2, unseen: 1, maxLagMs: 300, p50LagMs: 200 });
  });
});
