import { describe, expect, it } from 'vitest';
import { createLogger } from '../../core/logger.ts';
import { encodeHeartbeat, FreshnessTracker } from '../../replicator/heartbeats.ts';
import { uniqueName } from '../support/names.ts';
import { useClients } from '../support/regions.ts';

const log = createLogger({ name: 'test-heartbeats', level: process.env['TEST_LOG_LEVEL'] ?? 'warn' });

describe('freshness tracker', () => {
  const clients = useClients();

  it('picks up a heartbeat copy that appears after it started, and two trackers both see every heartbeat', async () => {
    const base = uniqueName('hb');
    const [early, late] = [`us-east.${base}`, `ap-southeast.${base}`];
    const admin = await clients.admin('eu-west');
    await admin.createTopics({ topics: [{ topic: early, numPartitions: 1 }] });
    const trackers = [0, 1].map((i) => new FreshnessTracker({ kafka: clients.kafka('eu-west'), topics: [early, late], groupId: `${base}-tracker-${i}`, log }));
    trackers.forEach((t) => t.start());
    const producer = await clients.producer('eu-west');
    let beating = true;
    let lateExists = false;
    const beats = (async () => {
      while (beating) {
        const ts = Date.now();
        await producer.send({ topic: early, messages: [{ value: encodeHeartbeat({ region: 'us-east', ts }) }] });
        if (lateExists) await producer.send({ topic: late, messages: [{ value: encodeHeartbeat({ region: 'ap-southeast', ts }) }] });
        await new Promise((r) => setTimeout(r, 200));
      }
    })();
    try {
      for (const t of trackers) await expect.poll(() => t.freshnessMs()['us-east'], { timeout: 30_000 }).toBeLessThan(2_000);
      expect(trackers[0]?.freshnessMs()['ap-southeast']).toBeUndefined();
      await admin.createTopics({ topics: [{ topic: late, numPartitions: 1 }] });
      lateExists = true;
      for (const t of trackers) await expect.poll(() => t.freshnessMs()['ap-southeast'], { timeout: 30_000 }).toBeLessThan(2_000);
      // Still following the first topic after re-subscribing.
      await new Promise((r) => setTimeout(r, 1_000));
      for (const t of trackers) expect(t.freshnessMs()['us-east']).toBeLessThan(2_000);
    } finally {
      beating = false;
      await beats;
      await Promise.all(trackers.map((t) => t.stop()));
    }
  });
});
