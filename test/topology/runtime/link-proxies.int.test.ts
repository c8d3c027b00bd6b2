/**
 * Link proxies in the runtime: a Kafka client in eu-west that bootstraps through the proxy
 * us-east->eu-west really crosses it for everything it does afterwards, because the brokers
 * advertise the proxy on that listener. Proof: with the link blackholed, the client receives
 * nothing more although the records are there; healed, it receives them all, in order.
 * Skipped when the test runtime has no link proxies (GEOREPLICA_TEST_LINK_PROXIES=0).
 */
import { describe, expect, it } from 'vitest';
import { remoteBootstrap } from '../../../config/link-plan.ts';
import { kafkaClient } from '../../../core/kafka.ts';
import type { Consumer } from '../../../core/kafka.ts';
import { createLogger } from '../../../core/logger.ts';
import { sleep } from '../../../core/retry.ts';
import { uniqueName } from '../../support/names.ts';
import { useClients } from '../../support/regions.ts';

const clients = useClients();
const enabled = clients.runtime.deployment.runtime.linkProxies.enabled;

describe.skipIf(!enabled)('link proxies in the runtime', () => {
  it('a client bootstrapped through the proxy fetches only through it: blackholed it gets nothing, healed it gets everything in order', async () => {
    const { runtime } = clients;
    const topic = uniqueName('link');
    const admin = await clients.admin('us-east');
    // Three partitions over three brokers: the client must reach every broker, each through its own proxy port.
    await admin.createTopics({ topics: [{ topic, numPartitions: 3, replicationFactor: 3 }] });
    const producer = await clients.producer('us-east', { kafkaJS: { acks: -1, idempotent: true } });
    const send = async (from: number, to: number): Promise<void> => {
      await producer.send({ topic, messages: Array.from({ length: to - from }, (_, i) => ({ key: `k${(from + i) % 7}`, value: String(from + i) })) });
    };
    await send(0, 30);

    const viaProxy = remoteBootstrap(runtime.deployment, 'us-east', 'eu-west');
    expect(viaProxy).not.toEqual(runtime.deployment.regions['us-east']?.kafka.bootstrap);
    const consumer: Consumer = kafkaClient({ bootstrap: viaProxy, clientId: 'link-test', log: createLogger({ name: 'link-test', level: 'error' }) }).consumer({ kafkaJS: { groupId: uniqueName('link-test'), fromBeginning: true, autoCommit: false } });
    const got: Array<{ partition: number; value: number }> = [];
    await consumer.connect();
    try {
      await consumer.subscribe({ topic });
      await consumer.run({
        eachMessage: ({ partition, message }) => {
          got.push({ partition, value: Number(message.value?.toString()) });
          return Promise.resolve();
        },
      });
      await expect.poll(() => got.length, { timeout: 60_000 }).toBe(30);

      await runtime.link('us-east', 'eu-west', { blackhole: true, reason: 'test' });
      try {
        await send(30, 60);
        // Long enough for a client that had a direct route to fetch them many times over.
        await sleep(5_000);
        expect(got.length).toBe(30);
      } finally {
        await runtime.link('us-east', 'eu-west', 'clear');
      }
      await expect.poll(() => got.length, { timeout: 90_000 }).toBe(60);
      const values = got.map((g) => g.value).sort((a, b) => a - b);
      expect(values).toEqual(Array.from({ length: 60 }, (_, i) => i));
      // Per partition, in production order: the proxy preserves byte order.
      for (const p of [0, 1, 2]) {
        const seq = got.filter((g) => g.partition === p).map((g) => g.value);
        expect(seq).toEqual([...seq].sort((a, b) => a - b));
      }
    } finally {
      await consumer.disconnect();
      await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    }
  });

  it('georeplica link reads and changes a link; a link a region does not have is refused by name', async () => {
    const { runtime } = clients;
    expect(await runtime.link('eu-west', 'ap-southeast')).toMatchObject({ blackhole: false, reset: false, latencyMs: 80 });
    expect(await runtime.link('eu-west', 'ap-southeast', { latencyMs: 5, bandwidthBytesPerSec: 1_000_000 })).toMatchObject({ latencyMs: 5, bandwidthBytesPerSec: 1_000_000 });
    expect(await runtime.link('eu-west', 'ap-southeast', 'clear')).toMatchObject({ latencyMs: 80, bandwidthBytesPerSec: null });
    await expect(runtime.link('eu-west', 'eu-west')).rejects.toThrow('a region has no link to itself');
    await expect(runtime.link('eu-west', 'mars')).rejects.toThrow('Unknown region "mars"');
  });
});
