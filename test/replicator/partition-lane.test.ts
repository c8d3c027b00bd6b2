import { describe, expect, it } from 'vitest';
import { PartitionLane, STALE_CHECK_EVERY } from '../../replicator/partition-lane.ts';
import type { SourceRecord } from '../../replicator/source-reader.ts';

const record = (offset: number, size = 10): SourceRecord => ({ offset, key: null, value: Buffer.alloc(size), timestamp: 0, size });
const run = (from: number, to: number, size = 10): SourceRecord[] => Array.from({ length: to - from + 1 }, (_, i) => record(from + i, size));
const offsets = (ms: readonly SourceRecord[]): number[] => ms.map((m) => m.offset);

describe('PartitionLane', () => {
  it('queues batches in order and hands out copies of at most maxRecords and maxBytes', () => {
    const lane = new PartitionLane({ maxRecords: 4, maxBytes: 35 });
    lane.reset('10');
    expect(lane.offer(run(10, 12))).toEqual({ kind: 'queued', added: 3, lastOffset: 12 });
    expect(lane.offer(run(13, 16))).toEqual({ kind: 'queued', added: 4, lastOffset: 16 });
    expect(lane.records).toBe(7);
    expect(offsets(lane.take())).toEqual([10, 11, 12]); // 4 records would be 40 bytes
    expect(offsets(lane.take())).toEqual([13, 14, 15]);
    expect(offsets(lane.take())).toEqual([16]);
    expect(lane.take()).toEqual([]);
    expect(lane.nextOffset()).toBe('17');
  });

  it('a record larger than maxBytes is still copied, alone', () => {
    const lane = new PartitionLane({ maxRecords: 10, maxBytes: 5 });
    lane.reset(undefined);
    lane.offer([record(0, 100), record(1, 100)]);
    expect(offsets(lane.take())).toEqual([0]);
    expect(offsets(lane.take())).toEqual([1]);
  });

  it('never takes a record twice: redelivered records are dropped, a straddling batch is trimmed', () => {
    const lane = new PartitionLane({ maxRecords: 100, maxBytes: 1e9 });
    lane.reset('0');
    lane.offer(run(0, 9));
    expect(offsets(lane.take())).toEqual(run(0, 9).map((_, i) => i));
    expect(lane.offer(run(5, 9))).toEqual({ kind: 'duplicate', lastOffset: 9 });
    expect(lane.offer(run(8, 12))).toEqual({ kind: 'queued', added: 3, lastOffset: 12 });
    expect(offsets(lane.take())).toEqual([10, 11, 12]);
  });

  it('accepts gaps in offsets (transaction markers, aborted records are not delivered)', () => {
    const lane = new PartitionLane({ maxRecords: 100, maxBytes: 1e9 });
    lane.reset('0');
    lane.offer([record(0), record(1)]);
    expect(lane.offer([record(3), record(4)])).toMatchObject({ kind: 'queued', added: 2 });
    expect(offsets(lane.take())).toEqual([0, 1, 3, 4]);
  });

  it('after a rewind, refuses a batch fetched before the seek (it would skip records) and asks for the seek again', () => {
    const lane = new PartitionLane({ maxRecords: 100, maxBytes: 1e9 });
    lane.reset('0');
    lane.offer(run(0, 19));
    lane.take(); // 0-19 committed
    lane.offer(run(20, 29));
    const failed = lane.take(); // the copy of 20-29 fails; the checkpoint says 20
    expect(offsets(failed)[0]).toBe(20);
    lane.offer(run(30, 39)); // queued meanwhile: dropped by the rewind
    lane.reset('20', 20);
    expect(lane.records).toBe(0);
    expect(lane.offer(run(40, 49))).toEqual({ kind: 'stale', seekTo: '20', attempts: 1 });
    expect(lane.records).toBe(0);
    expect(lane.offer(run(20, 25))).toEqual({ kind: 'queued', added: 6, lastOffset: 25 });
    // Once fetching restarted at the rewind point, later batches continue normally.
    expect(lane.offer(run(26, 45))).toMatchObject({ kind: 'queued', added: 20 });
    expect(offsets(lane.take())).toEqual(run(20, 45).map((_, i) => 20 + i));
  });

  it('a rewind whose failed copy had in fact committed (checkpoint past it) sets no bound', () => {
    const lane = new PartitionLane({ maxRecords: 100, maxBytes: 1e9 });
    lane.reset('30', 20);
    expect(lane.offer(run(30, 31))).toMatchObject({ kind: 'queued', added: 2 });
  });

  it('never skips past the rewind point on its own, however often stale batches come', () => {
    const lane = new PartitionLane({ maxRecords: 100, maxBytes: 1e9 });
    lane.reset('20', 25);
    for (let i = 1; i <= 3 * STALE_CHECK_EVERY; i++) expect(lane.offer(run(100, 101))).toMatchObject({ kind: 'stale', attempts: i });
    // The source still has the records (its log starts before the failed copy): keep seeking.
    expect(lane.sourceStartsAt(0)).toBeUndefined();
    expect(lane.sourceStartsAt(25)).toBeUndefined();
    expect(lane.offer(run(100, 101))).toMatchObject({ kind: 'stale' });
    expect(lane.truncated).toBeUndefined();
    expect(lane.offer(run(20, 22))).toMatchObject({ kind: 'queued', added: 3 });
  });

  it('when the source deleted the records after the checkpoint, it says so and goes on from its log start', () => {
    const lane = new PartitionLane({ maxRecords: 100, maxBytes: 1e9 });
    lane.reset('20', 25);
    expect(lane.offer(run(100, 101))).toMatchObject({ kind: 'stale', attempts: 1 });
    expect(lane.sourceStartsAt(60)).toBe('60');
    expect(lane.truncated).toEqual({ from: '20', to: '59' });
    // A batch fetched before that seek is still stale; the one from the log start is taken.
    expect(lane.offer(run(100, 101))).toMatchObject({ kind: 'stale', seekTo: '60' });
    expect(lane.offer(run(60, 61))).toMatchObject({ kind: 'queued', added: 2 });
  });

  it('is full at two copies\' worth and drained below one', () => {
    const lane = new PartitionLane({ maxRecords: 5, maxBytes: 1e9 });
    lane.reset('0');
    lane.offer(run(0, 8));
    expect([lane.full, lane.drained]).toEqual([false, false]);
    lane.offer(run(9, 9));
    expect(lane.full).toBe(true);
    lane.take();
    lane.take();
    expect([lane.full, lane.drained]).toEqual([false, true]);
  });
});
