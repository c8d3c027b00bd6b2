import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../core/logger.ts';
import { testDeployment } from '../setup/test-deployment.ts';
import { parseOffsetSync, pickSync, settleTranslation, translateGroupOffsets } from '../../replicator/offset-translation.ts';
import type { OffsetSync } from '../../replicator/offset-translation.ts';
import { offsetSyncRecord } from '../../replicator/flow-copier.ts';

const sync = (sourceOffset: number, targetOffset: number): OffsetSync => ({ topic: 't', partition: 0, sourceOffset: String(sourceOffset), targetOffset: String(targetOffset) });

describe('pickSync', () => {
  const syncs = [sync(0, 0), sync(100, 102), sync(250, 254), sync(400, 406)];

  it('picks the sync with the largest source offset at or below the committed offset', () => {
    expect(pickSync(syncs, 0n)).toEqual(sync(0, 0));
    expect(pickSync(syncs, 99n)).toEqual(sync(0, 0));
    expect(pickSync(syncs, 100n)).toEqual(sync(100, 102));
    expect(pickSync(syncs, '249')).toEqual(sync(100, 102));
    expect(pickSync(syncs, 250n)).toEqual(sync(250, 254));
    expect(pickSync(syncs, 10_000n)).toEqual(sync(400, 406));
  });

  it('returns undefined when every sync is beyond the offset, or there are none', () => {
    expect(pickSync([sync(50, 50)], 49n)).toBeUndefined();
    expect(pickSync([], 10n)).toBeUndefined();
  });

  it('does not depend on log order for distinct source offsets (re-copies after a rewind)', () => {
    // at-least-once: 150 copied, crash before the checkpoint, re-copied from 100 further on.
    const rewound = [sync(100, 100), sync(150, 150), sync(100, 200), sync(150, 250)];
    expect(pickSync(rewound, 120n)).toEqual(sync(100, 200));
    expect(pickSync(rewound, 170n)).toEqual(sync(150, 250));
  });

  it('prefers the later of two syncs with the same source offset', () => {
    expect(pickSync([sync(100, 100), sync(100, 200)], 100n)).toEqual(sync(100, 200));
  });

  it('compares offsets as integers, not strings, beyond 2^53', () => {
    const big = [sync(9, 9), { ...sync(0, 0), sourceOffset: '9007199254740993', targetOffset: '9007199254740995' }, { ...sync(0, 0), sourceOffset: '10', targetOffset: '10' }];
    expect(pickSync(big, 9007199254740993n)?.targetOffset).toBe('9007199254740995');
    expect(pickSync(big, 9007199254740992n)?.sourceOffset).toBe('10');
  });
});

describe('parseOffsetSync', () => {
  it("reads the replicator's own offset-sync records", () => {
    const rec = offsetSyncRecord('orders', 3, '120', '131');
    expect(parseOffsetSync(rec.value)).toEqual({ topic: 'orders', partition: 3, sourceOffset: '120', targetOffset: '131' });
    expect(parseOffsetSync(Buffer.from(rec.value))).toEqual({ topic: 'orders', partition: 3, sourceOffset: '120', targetOffset: '131' });
  });

  it('ignores malformed records', () => {
    for (const bad of [null, undefined, '', 'not json', '{}', '{"topic":"t","partition":-1,"sourceOffset":"1","targetOffset":"1"}', '{"topic":"t","partition":0,"sourceOffset":"-1","targetOffset":"1"}', '{"topic":"t","partition":0,"sourceOffset":"x","targetOffset":"1"}']) {
      expect(parseOffsetSync(bad)).toBeUndefined();
    }
  });
});

describe('settleTranslation', () => {
  it('is exact at the first copy at or past the committed offset', () => {
    expect(settleTranslation({ sourceOffset: 100n, found: 104n, end: 300n, checkpoint: 50n })).toEqual({ targetOffset: 104n, exact: true, pendingRecords: 0 });
  });

  it("is exact at the copy's end when the checkpoint shows everything before the offset is copied", () => {
    expect(settleTranslation({ sourceOffset: 150n, end: 158n, checkpoint: 150n })).toEqual({ targetOffset: 158n, exact: true, pendingRecords: 0 });
    expect(settleTranslation({ sourceOffset: 150n, end: 158n, checkpoint: 151n })).toEqual({ targetOffset: 158n, exact: true, pendingRecords: 0 });
  });

  it('is not exact, at the end, with the records still to copy, when replication is behind', () => {
    expect(settleTranslation({ sourceOffset: 150n, end: 104n, checkpoint: 100n })).toEqual({ targetOffset: 104n, exact: false, pendingRecords: 50 });
  });

  it('counts from the source log start when nothing was checkpointed yet', () => {
    expect(settleTranslation({ sourceOffset: 30n, end: 0n, sourceStart: 0n })).toEqual({ targetOffset: 0n, exact: false, pendingRecords: 30 });
    expect(settleTranslation({ sourceOffset: 30n, end: 0n, sourceStart: 30n })).toEqual({ targetOffset: 0n, exact: true, pendingRecords: 0 });
  });
});

describe('translateGroupOffsets argument checks (no cluster needed)', () => {
  const deployment = testDeployment();
  it('rejects unknown regions, listing the valid ones', async () => {
    const err = await translateGroupOffsets({ deployment, group: 'g', from: 'us-east', to: 'mars', log: silentLogger() }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'UNKNOWN_REGION', message: expect.stringContaining('Valid regions: us-east, eu-west, ap-southeast') as unknown });
  });

  it('rejects translating a region into itself', async () => {
    await expect(translateGroupOffsets({ deployment, group: 'g', from: 'eu-west', to: 'eu-west', log: silentLogger() })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});
