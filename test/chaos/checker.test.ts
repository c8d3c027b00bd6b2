import { describe, expect, it } from 'vitest';
import { check } from '../../chaos/checker.ts';
import type { CheckInput } from '../../chaos/checker.ts';
import type { CopyAudit } from '../../chaos/copy-audit.ts';
import type { StoredDoc } from '../../chaos/index-snapshot.ts';
import type { WriteRecord } from '../../chaos/workload.ts';

const REGIONS = ['a', 'b'];
let n = 0;

function w(o: Partial<WriteRecord> & Pick<WriteRecord, 'id' | 'region'>): WriteRecord {
  return { n: n++, op: 'upsert', startedAt: 0, endedAt: 1, outcome: 'acked', ...o };
}

function doc(version: string, o: Partial<StoredDoc> = {}): StoredDoc {
  return { version, deleted: false, w: undefined, ...o };
}

/** A copy of `source` into `target` holding exactly these partition/offset pairs, in this order. */
function audit(source: string, target: string, copied: Array<[number, number]>, ends: Record<number, number> = {}): CopyAudit {
  const map = new Map<number, Set<number>>();
  const order = new Map<number, number[]>();
  const duplicates: string[] = [];
  for (const [p, o] of copied) {
    const set = map.get(p) ?? new Set<number>();
    if (set.has(o)) duplicates.push(`${p}/${o}`);
    set.add(o);
    map.set(p, set);
    order.set(p, [...(order.get(p) ?? []), o]);
  }
  const outOfOrder = [...order].filter(([, l]) => l.some((x, i) => i > 0 && x <= (l[i - 1] as number))).map(([p]) => p);
  const missing = Object.entries(ends).flatMap(([p, end]) => Array.from({ length: end }, (_, o) => o).filter((o) => !map.get(Number(p))?.has(o)).map((o) => `${p}/${o}`));
  return { source, target, topic: `${source}.docs`, sourceRecords: copied.length, copies: copied.length, missing, duplicates, outOfOrder, misplaced: 0, copied: map };
}

function input(writes: WriteRecord[], a: Map<string, StoredDoc>, b: Map<string, StoredDoc>, audits: CopyAudit[] = []): CheckInput {
  return { writes, regions: REGIONS, snapshots: { a, b }, audits };
}

describe('invariant checker', () => {
  it('passes when every region holds the final acknowledged version and every copy is complete', () => {
    const writes = [w({ id: 'x', region: 'a', version: '10', partition: 0, offset: 0 }), w({ id: 'x', region: 'b', version: '20', partition: 1, offset: 0 }), w({ id: 'y', region: 'a', op: 'delete', version: '15', partition: 0, offset: 1 })];
    const state = new Map([['x', doc('20')], ['y', doc('15', { deleted: true })]]);
    const v = check(input(writes, state, new Map(state), [audit('a', 'b', [[0, 0], [0, 1]]), audit('b', 'a', [[1, 0]])]));
    expect(v).toMatchObject({ lost: 0, duplicated: 0, outOfOrder: 0, missingInCopies: 0, converged: true, phantoms: [], indeterminateApplied: 0 });
    expect(v.writes).toEqual({ attempted: 3, acked: 3, failed: 0, indeterminate: 0 });
  });

  it('counts an acknowledged final version that a region lacks or holds older as lost, and the regions as diverged', () => {
    const writes = [w({ id: 'x', region: 'a', version: '10' }), w({ id: 'x', region: 'a', version: '30' })];
    const v = check(input(writes, new Map([['x', doc('30')]]), new Map([['x', doc('10')]])));
    expect(v.lost).toBe(1);
    expect(v.lostInIndex).toEqual([{ id: 'x', region: 'b', expected: 'upsert 30', found: 'document 10' }]);
    expect(v.converged).toBe(false);
    expect(v.divergent).toEqual(['x']);
  });

  it('counts a final delete whose tombstone is missing, or a live document where a tombstone belongs, as lost', () => {
    const writes = [w({ id: 'x', region: 'a', op: 'delete', version: '10' })];
    const v = check(input(writes, new Map(), new Map([['x', doc('10')]])));
    expect(v.lostInIndex.map((l) => `${l.region}: ${l.found}`)).toEqual(['a: nothing', 'b: document 10']);
    expect(v.lost).toBe(1);
  });

  it('accepts a newer version only when an indeterminate write produced it, and reports it; anything else is a phantom', () => {
    const unknown = w({ id: 'x', region: 'a', outcome: 'indeterminate' });
    const writes = [w({ id: 'x', region: 'a', version: '10' }), unknown];
    const explained = new Map([['x', doc('99', { w: unknown.n })]]);
    expect(check(input(writes, explained, new Map(explained)))).toMatchObject({ lost: 0, indeterminateApplied: 2, phantoms: [], converged: true });
    const unexplained = new Map([['x', doc('99', { w: 12345 })]]);
    expect(check(input(writes, unexplained, new Map(unexplained))).phantoms).toHaveLength(2);
  });

  it('lets an id whose writes all failed or were indeterminate be absent everywhere', () => {
    const writes = [w({ id: 'x', region: 'a', outcome: 'indeterminate' }), w({ id: 'y', region: 'b', outcome: 'failed' })];
    expect(check(input(writes, new Map(), new Map()))).toMatchObject({ lost: 0, converged: true, phantoms: [] });
  });

  it('finds acknowledged writes missing from a copy, duplicates, disorder and source records never copied', () => {
    const writes = [w({ id: 'x', region: 'a', version: '1', partition: 0, offset: 0 }), w({ id: 'y', region: 'a', version: '2', partition: 0, offset: 1 }), w({ id: 'z', region: 'a', version: '3', partition: 0, offset: 2 })];
    const state = new Map([['x', doc('1')], ['y', doc('2')], ['z', doc('3')]]);
    const v = check(input(writes, state, new Map(state), [audit('a', 'b', [[0, 0], [0, 2], [0, 0]], { 0: 4 })]));
    expect(v.lostInCopies).toEqual([{ n: writes[1]?.n, id: 'y', from: 'a', to: 'b', at: '0/1' }]);
    expect(v.lost).toBe(1);
    expect(v.duplicated).toBe(1);
    expect(v.outOfOrder).toBe(1);
    // Offset 3 was in the source but nobody acknowledged it: still a gap in the copy.
    expect(v.missingInCopies).toBe(2);
  });

  it('does not call regions converged when one could not be read', () => {
    const v = check({ writes: [], regions: REGIONS, snapshots: { a: new Map(), b: undefined }, audits: [] });
    expect(v.converged).toBe(false);
    expect(v.unreadable).toEqual(['b']);
  });
});
