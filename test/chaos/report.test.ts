import { describe, expect, it } from 'vitest';
import type { Verdict } from '../../chaos/checker.ts';
import { lossRanges } from '../../chaos/report.ts';

function verdict(lost: Array<[string, string, string]>, lostInIndex = 0): Verdict {
  return {
    writes: { attempted: 0, acked: 0, failed: 0, indeterminate: 0 },
    lost: lost.length,
    lostInIndex: Array.from({ length: lostInIndex }, (_, i) => ({ id: `d${i}`, region: 'eu-west', expected: 'document 1', found: 'absent' })),
    lostInCopies: lost.map(([from, to, at], n) => ({ n, id: `d${n}`, from, to, at })),
    duplicated: 0,
    outOfOrder: 0,
    misplaced: 0,
    missingInCopies: lost.length,
    indeterminateApplied: 0,
    phantoms: [],
    divergent: [],
    converged: true,
    unreadable: [],
  };
}

describe('loss ranges', () => {
  it('says none when nothing is lost', () => {
    expect(lossRanges(verdict([]))).toBe('none');
  });

  it('groups missing offsets into runs per flow and source partition', () => {
    const v = verdict([
      ['us-east', 'eu-west', '2/141'],
      ['us-east', 'eu-west', '2/140'],
      ['us-east', 'eu-west', '2/142'],
      ['us-east', 'eu-west', '2/150'],
      ['us-east', 'ap-southeast', '0/7'],
    ], 2);
    expect(lossRanges(v)).toBe('us-east->ap-southeast p0: 7 (1); us-east->eu-west p2: 140-142,150 (4); 2 missing in indexes');
  });
});
