import { describe, expect, it } from 'vitest';
import { GeoError, isGeoError } from '../../../core/errors.ts';
import { describeTopicConfigs } from '../../../core/kafka-protocol/describe-configs.ts';
import type { DescribeTopicConfigsOptions, TopicConfigs } from '../../../core/kafka-protocol/describe-configs.ts';
import { sleep } from '../../../core/retry.ts';
import { THREE_BROKER_REGION } from '../../setup/test-deployment.ts';
import { uniqueName } from '../../support/names.ts';
import { useClients } from '../../support/regions.ts';

const ONE_BROKER_REGION = 'eu-west';

describe('describeTopicConfigs against the test regions', () => {
  const clients = useClients();
  const { runtime } = clients;

  function bootstrap(region: string): string[] {
    const b = runtime.deployment.regions[region]?.kafka.bootstrap;
    if (!b) throw new Error(`no region ${region}`);
    return [...b];
  }

  async function createTopic(region: string, prefix: string): Promise<string> {
    const topic = uniqueName(prefix);
    const admin = await clients.admin(region);
    await admin.createTopics({
      topics: [
        {
          topic,
          numPartitions: 2,
          configEntries: [
            { name: 'cleanup.policy', value: 'compact' },
            { name: 'retention.ms', value: '123456' },
          ],
        },
      ],
    });
    return topic;
  }

  /** A topic created through one broker reaches the other brokers' metadata a moment later. */
  async function describeOnceVisible(servers: string[], topics: string[], options?: DescribeTopicConfigsOptions): Promise<TopicConfigs> {
    const deadline = Date.now() + 15_000;
    for (;;) {
      try {
        return await describeTopicConfigs(servers, topics, options);
      } catch (err) {
        if (!isGeoError(err, 'KAFKA_OPERATION_FAILED') || err.details['kafkaCode'] !== 3 || Date.now() > deadline) throw err;
        await sleep(200);
      }
    }
  }

  it.each([THREE_BROKER_REGION, ONE_BROKER_REGION])('reads the configs set at creation and the defaults of a topic in %s', async (region) => {
    expect(bootstrap(THREE_BROKER_REGION)).toHaveLength(3);
    expect(bootstrap(ONE_BROKER_REGION)).toHaveLength(1);
    const topic = await createTopic(region, `dc-${region}`);
    const got = await describeOnceVisible(bootstrap(region), [topic], { clientId: 'describe-configs-test' });
    expect([...got.keys()]).toEqual([topic]);
    const configs = got.get(topic) as Map<string, unknown>;
    expect(configs.get('cleanup.policy')).toEqual({ value: 'compact', isDefault: false, readOnly: false, sensitive: false, source: 'TOPIC_CONFIG' });
    expect(configs.get('retention.ms')).toEqual({ value: '123456', isDefault: false, readOnly: false, sensitive: false, source: 'TOPIC_CONFIG' });
    // Not set anywhere: Kafka's defaults.
    expect(configs.get('max.message.bytes')).toEqual({ value: '1048588', isDefault: true, readOnly: false, sensitive: false, source: 'DEFAULT_CONFIG' });
    expect(configs.get('retention.bytes')).toMatchObject({ value: '-1', isDefault: true });
    expect(configs.get('min.compaction.lag.ms')).toMatchObject({ value: '0', isDefault: true });
    // The test brokers set log.segment.bytes: inherited, so not Kafka's default, and not set on the topic.
    expect(configs.get('segment.bytes')).toMatchObject({ value: String(64 * 1024 * 1024), isDefault: false, source: 'STATIC_BROKER_CONFIG' });
    expect(configs.size).toBeGreaterThan(20);
  });

  it('gets the same answer from every broker of the 3-broker region', async () => {
    const topic = await createTopic(THREE_BROKER_REGION, 'dc-each');
    const servers = bootstrap(THREE_BROKER_REGION);
    for (let i = 0; i < servers.length; i++) {
      // Each broker first in turn (one that another test has stopped is skipped, not failed).
      const rotated = [...servers.slice(i), ...servers.slice(0, i)];
      const got = await describeOnceVisible(rotated, [topic], { configNames: ['cleanup.policy', 'retention.ms'] });
      expect(Object.fromEntries([...(got.get(topic) ?? [])].map(([k, v]) => [k, v.value]))).toEqual({ 'cleanup.policy': 'compact', 'retention.ms': '123456' });
    }
  });

  it('returns only the named configs, for several topics in one request', async () => {
    const a = await createTopic(ONE_BROKER_REGION, 'dc-a');
    const b = uniqueName('dc-b');
    const admin = await clients.admin(ONE_BROKER_REGION);
    await admin.createTopics({ topics: [{ topic: b, numPartitions: 1, configEntries: [{ name: 'retention.bytes', value: '1048576' }] }] });
    const names = ['cleanup.policy', 'retention.ms', 'retention.bytes', 'min.compaction.lag.ms', 'max.message.bytes', 'no.such.config'];
    const got = await describeOnceVisible(bootstrap(ONE_BROKER_REGION), [a, b], { configNames: names });
    expect([...got.keys()].sort()).toEqual([a, b].sort());
    expect([...(got.get(a)?.keys() ?? [])].sort()).toEqual(names.filter((n) => n !== 'no.such.config').sort());
    expect(got.get(b)?.get('cleanup.policy')).toMatchObject({ value: 'delete', isDefault: true });
    expect(got.get(b)?.get('retention.bytes')).toMatchObject({ value: '1048576', isDefault: false, source: 'TOPIC_CONFIG' });
    expect(got.get(b)?.get('retention.ms')).toMatchObject({ value: '604800000', isDefault: true });
  });

  it.each([THREE_BROKER_REGION, ONE_BROKER_REGION])('names an unknown topic in a non-retriable KAFKA_OPERATION_FAILED (%s)', async (region) => {
    const known = await createTopic(region, 'dc-known');
    await describeOnceVisible(bootstrap(region), [known]);
    const ghost = uniqueName('dc-ghost');
    const err = await describeTopicConfigs(bootstrap(region), [known, ghost]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GeoError);
    expect(err).toMatchObject({ code: 'KAFKA_OPERATION_FAILED', retriable: false, details: { topic: ghost, topics: [ghost], kafkaCode: 3, kafkaError: 'UNKNOWN_TOPIC_OR_PARTITION' } });
    expect((err as GeoError).message).toContain(`'${ghost}'`);
  });

  it('fails fast with a retriable KAFKA_UNAVAILABLE when no bootstrap broker can be reached', async () => {
    const t0 = Date.now();
    const err = await describeTopicConfigs('127.0.0.1:1', ['anything']).catch((e: unknown) => e);
    expect(Date.now() - t0).toBeLessThan(2_000);
    expect(err).toBeInstanceOf(GeoError);
    expect(err).toMatchObject({ code: 'KAFKA_UNAVAILABLE', retriable: true, details: { bootstrap: ['127.0.0.1:1'] } });
    expect((err as GeoError).message).toContain('127.0.0.1:1');
  });

  it('skips an unreachable bootstrap address and asks the next one', async () => {
    const topic = await createTopic(ONE_BROKER_REGION, 'dc-skip');
    const got = await describeOnceVisible(['127.0.0.1:1', ...bootstrap(ONE_BROKER_REGION)], [topic], { configNames: ['cleanup.policy'] });
    expect(got.get(topic)?.get('cleanup.policy')?.value).toBe('compact');
  });
});
