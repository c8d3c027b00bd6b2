import { errors } from '@opensearch-project/opensearch';
import type { Client } from '@opensearch-project/opensearch';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../../core/logger.ts';
import { RegionHealthMonitor } from '../../../services/search/region-health.ts';
import type { RegionHealth } from '../../../services/search/region-health.ts';

type Answer = 'green' | 'red' | 'timeout' | 'refused';

/** A search client whose cluster.health answers from a script: the hysteresis is pure logic. */
function scripted(answers: Answer[]): Client {
  let i = 0;
  const health = (): Promise<{ body: { status: string } }> => {
    const a = answers[Math.min(i++, answers.length - 1)];
    if (a === 'timeout') return Promise.reject(new errors.TimeoutError('Request timed out', {} as never));
    if (a === 'refused') return Promise.reject(new errors.ConnectionError('connect ECONNREFUSED 127.0.0.1:9200', {} as never));
    return Promise.resolve({ body: { status: a ?? 'green' } });
  };
  return { cluster: { health } } as unknown as Client;
}

async function rounds(answers: Answer[]): Promise<Array<RegionHealth['search']['ok']>> {
  const seen: boolean[] = [];
  let done: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => (done = resolve));
  const monitor = new RegionHealthMonitor({
    region: 'r',
    sources: ['r'],
    search: scripted(answers),
    kafkaBootstrap: ['127.0.0.1:1'],
    indexerReport: () => Promise.resolve({ state: 'running', paused: [], bufferedRecords: 0, freshness: { r: { freshnessMs: 0 } } }),
    log: silentLogger(),
    intervalMs: 1,
    timeoutMs: 50,
    onRound: (h) => {
      seen.push(h.search.ok);
      if (seen.length === answers.length) done();
    },
  });
  await monitor.start();
  await finished;
  await monitor.stop();
  return seen.slice(0, answers.length);
}

describe('RegionHealthMonitor: search status', () => {
  it('reports search down at once on a refused connection or a red cluster', async () => {
    expect(await rounds(['green', 'refused', 'green', 'red', 'green'])).toEqual([true, false, true, false, true]);
  });

  it('rides out one slow health call, but not two in a row', async () => {
    expect(await rounds(['green', 'timeout', 'green', 'timeout', 'timeout', 'green'])).toEqual([true, true, true, true, false, true]);
  });

  it('a first probe that times out is not taken as healthy', async () => {
    expect(await rounds(['timeout', 'green'])).toEqual([false, true]);
  });
});
