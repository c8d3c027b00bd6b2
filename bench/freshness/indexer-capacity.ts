/**
 * How fast a region's indexer applies when it is not waiting for writes: after the rate phases,
 * with the run's services stopped, a fresh Indexer (its own process, consumer group and alias, the
 * same topics and defaults) reads everything the run's topics hold in that region from the
 * beginning. Its status counts are read every 100 ms; rate = (expected − applied at the first
 * sample that shows any) / (time of the sample that shows all − time of that first sample), so
 * startup (index creation, group join) is left out, as in bench:replicator.
 */
import { join } from 'node:path';
import { sleep } from '../../core/retry.ts';
import type { IndexerStatus } from '../../services/indexer/indexer.ts';
import { startRpcChild } from '../support/rpc-child.ts';
import { round } from '../support/stats.ts';
import type { RunDeployment } from './deployment.ts';
import type { ServiceStart } from './service-child.ts';

export interface CapacityResult {
  region: string;
  expected: number;
  applied: number;
  seconds: number;
  docsPerSec: number;
  /** Start of the process to the first applied document. */
  startupSeconds: number;
  complete: boolean;
  /** When incomplete: what the indexer said last (state, subscriptions, pauses, buffered, last error). */
  lastStatus?: Pick<IndexerStatus, 'state' | 'subscribed' | 'paused' | 'bufferedRecords' | 'lastError'>;
}

export function capacityAlias(run: RunDeployment): string {
  return `${run.names.prefix}-capacity`;
}

export async function indexerCapacity(o: { region: string; run: RunDeployment; expected: number; logDir: string; stallSeconds: number }): Promise<CapacityResult> {
  const t0 = performance.now();
  const child = await startRpcChild(new URL('./service-child.ts', import.meta.url), { name: `capacity-indexer-${o.region}`, logFile: join(o.logDir, `capacity-indexer-${o.region}.log`), readyTimeoutMs: 120_000 });
  try {
    const start: ServiceStart = { kind: 'indexer', region: o.region, deployment: o.run.document, index: capacityAlias(o.run), groupId: `${o.run.names.prefix}-capacity-${o.region}` };
    await child.call('start', start, 180_000);
    let first: { at: number; applied: number } | undefined;
    let last = { at: performance.now(), applied: 0 };
    let s: IndexerStatus;
    for (;;) {
      s = await child.call<IndexerStatus>('status', undefined, 10_000);
      const at = performance.now();
      const applied = s.counts.indexed + s.counts.stale;
      if (applied > 0 && !first) first = { at, applied };
      if (applied > last.applied) last = { at, applied };
      if (applied >= o.expected || at - last.at > o.stallSeconds * 1000) break;
      await sleep(100);
    }
    const seconds = first && last.at > first.at ? (last.at - first.at) / 1000 : Number.NaN;
    return {
      region: o.region,
      expected: o.expected,
      applied: last.applied,
      seconds: round(seconds, 3),
      docsPerSec: first ? round((last.applied - first.applied) / seconds, 1) : Number.NaN,
      startupSeconds: first ? round((first.at - t0) / 1000, 2) : Number.NaN,
      complete: last.applied >= o.expected,
      ...(last.applied >= o.expected ? {} : { lastStatus: { state: s.state, subscribed: s.subscribed, paused: s.paused, bufferedRecords: s.bufferedRecords, lastError: s.lastError } }),
    };
  } finally {
    await child.close(45_000);
  }
}
