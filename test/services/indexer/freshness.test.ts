import { describe, expect, it } from 'vitest';
import { IDLE_PARTITION_MS, IndexFreshness } from '../../../services/indexer/freshness.ts';

function tracker(o: { paused?: boolean } = {}): { f: IndexFreshness; beats: Record<string, number>; state: { paused: boolean } } {
  const beats: Record<string, number> = { 'eu-west': 500 };
  const state = { paused: o.paused ?? false };
  const f = new IndexFreshness({ region: 'us-east', sources: ['us-east', 'eu-west'], heartbeatAgeMs: () => beats, paused: () => state.paused });
  return { f, beats, state };
}

describe('IndexFreshness', () => {
  it('is unknown for a remote source until its first heartbeat, and 0 for the local region', () => {
    const f = new IndexFreshness({ region: 'us-east', sources: ['us-east', 'eu-west'], heartbeatAgeMs: () => ({}) });
    const s = f.snapshot(1_000);
    expect(s['us-east']?.freshnessMs).toBe(0);
    expect(s['eu-west']?.freshnessMs).toBeNull();
  });

  it('counts records taken in but not yet indexed from the oldest of them', () => {
    const { f } = tracker();
    f.received('eu-west', 10_000);
    f.received('eu-west', 10_400);
    expect(f.snapshot(13_000)['eu-west']).toMatchObject({ freshnessMs: 3_000, pendingRecords: 2 });
    f.applied('eu-west', 10_000);
    f.applied('eu-west', 10_400);
    expect(f.snapshot(13_000)['eu-west']).toMatchObject({ freshnessMs: 500, pendingRecords: 0 });
  });

  it('while batches keep reporting a lag, is as old as the newest event indexed', () => {
    const { f } = tracker();
    f.received('eu-west', 10_000);
    f.applied('eu-west', 10_000);
    f.lag('eu-west', 'eu-west.documents', 0, true, 14_000);
    expect(f.snapshot(15_000)['eu-west']).toMatchObject({ freshnessMs: 5_000, behind: true });
  });

  it('forgets a lag once its partition stops delivering batches: transaction markers after the last record are no backlog', () => {
    const { f } = tracker();
    f.received('eu-west', 10_000);
    f.applied('eu-west', 10_000);
    // The last batch of a transactional copy: offsetLag() is 1 (the commit marker), and no batch follows.
    f.lag('eu-west', 'eu-west.documents', 0, true, 10_100);
    const quiet = f.snapshot(10_100 + IDLE_PARTITION_MS + 1)['eu-west'];
    expect(quiet).toMatchObject({ freshnessMs: 500, behind: false });
    // An hour later the copy is as fresh as its heartbeats, not an hour old.
    expect(f.snapshot(10_100 + 3_600_000)['eu-west']?.freshnessMs).toBe(500);
  });

  it('keeps a lag while the consumer is paused: nothing is read, and the backlog is real', () => {
    const { f, state } = tracker({ paused: true });
    f.received('eu-west', 10_000);
    f.applied('eu-west', 10_000);
    f.lag('eu-west', 'eu-west.documents', 0, true, 10_100);
    expect(f.snapshot(70_000)['eu-west']).toMatchObject({ freshnessMs: 60_000, behind: true });
    state.paused = false;
    expect(f.snapshot(70_000)['eu-west']).toMatchObject({ freshnessMs: 500, behind: false });
  });

  it('takes the heartbeat age when it is the larger part', () => {
    const { f, beats } = tracker();
    beats['eu-west'] = 9_000;
    f.received('eu-west', 10_000);
    expect(f.snapshot(12_000)['eu-west']?.freshnessMs).toBe(9_000);
  });
});
