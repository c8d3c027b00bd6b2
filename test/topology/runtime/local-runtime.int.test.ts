import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { collect } from '../../support/kafka.ts';
import { uniqueName } from '../../support/names.ts';
import { useClients } from '../../support/regions.ts';

const REGIONS = ['us-east', 'eu-west', 'ap-southeast'];

describe('local multi-region runtime', () => {
  const clients = useClients();
  const { runtime } = clients;

  it('reports every server healthy, and up again starts nothing (idempotent)', async () => {
    const status = await runtime.status();
    expect(status.map((s) => s.name)).toEqual(expect.arrayContaining(['us-east/kafka-0', 'us-east/kafka-2', 'eu-west/opensearch', 'ap-southeast/kafka-0']));
    expect(status.filter((s) => !s.healthy)).toEqual([]);
    const again = await runtime.up();
    expect(again.started).toEqual([]);
    expect(again.alreadyRunning.sort()).toEqual(runtime.serverNames.sort());
  });

  it('starts the JVMs with the first JIT tier only, as the test deployment asks (runtime.jit: quick)', async () => {
    const jvms = (await runtime.status()).filter((s) => s.kind === 'kafka' || s.kind === 'opensearch');
    expect(jvms.length).toBe(8); // 3 brokers in us-east, 1 in each other region, 3 search nodes
    for (const s of jvms) {
      const args = readFileSync(`/proc/${s.pid}/cmdline`, 'utf8').split('\0');
      expect(args, s.name).toContain('-XX:TieredStopAtLevel=1');
    }
  });

  it.each(REGIONS)('produces and consumes a record in %s Kafka', async (region) => {
    const topic = uniqueName(`rt-${region}`);
    const admin = await clients.admin(region);
    await admin.createTopics({ topics: [{ topic, numPartitions: 2 }] });
    const producer = await clients.producer(region, { kafkaJS: { acks: -1, idempotent: true } });
    const [meta] = await producer.send({ topic, messages: [{ key: 'k1', value: `hello from ${region}` }] });
    expect(meta?.errorCode).toBe(0);
    const consumer = await clients.consumer(region, { kafkaJS: { groupId: uniqueName('g'), fromBeginning: true } });
    await consumer.subscribe({ topic });
    const got = await collect(consumer, 1);
    expect(got[0]).toMatchObject({ key: 'k1', value: `hello from ${region}`, partition: meta?.partition });
  });

  it.each(REGIONS)('indexes and searches a document in %s OpenSearch', async (region) => {
    const index = uniqueName(`rt-${region}`);
    const search = clients.search(region);
    await search.index({ index, id: 'doc-1', body: { title: `red kayak in ${region}` }, refresh: true });
    const res = await search.search({ index, body: { query: { match: { title: 'kayak' } } } });
    const hits = res.body.hits.hits;
    expect(hits.map((h) => h._id)).toEqual(['doc-1']);
    const other = await search.search({ index, body: { query: { match: { title: 'bicycle' } } } });
    expect(other.body.hits.hits).toEqual([]);
  });

  it('keeps accepting acks=all writes when the leader broker of a 3-broker region is killed, then restarts it', async () => {
    const topic = uniqueName('rt-kill');
    const admin = await clients.admin('us-east');
    await admin.createTopics({ topics: [{ topic, numPartitions: 1, replicationFactor: 3, configEntries: [{ name: 'min.insync.replicas', value: '2' }] }] });
    // Right after creation a broker may not know the topic yet: poll for its leader.
    let leader = -1;
    await expect.poll(async () => (leader = (await admin.fetchTopicMetadata({ topics: [topic] }).catch(() => undefined))?.[0]?.partitions[0]?.leader ?? -1), { timeout: 15_000 }).toBeGreaterThan(0);
    const victim = `us-east/kafka-${leader - 1}`;

    await runtime.kill(victim);
    expect((await runtime.status()).find((s) => s.name === victim)?.process).toBe('dead');

    const producer = await clients.producer('us-east', { kafkaJS: { acks: -1, idempotent: true }, 'message.timeout.ms': 60_000 });
    const [meta] = await producer.send({ topic, messages: [{ key: 'after-kill', value: 'still durable' }] });
    expect(meta?.errorCode).toBe(0);
    // A fresh admin client: the first one may keep asking the dead broker for stale metadata.
    const admin2 = await clients.admin('us-east');
    const partition0 = async () => (await admin2.fetchTopicMetadata({ topics: [topic], timeout: 5_000 }).catch(() => undefined))?.[0]?.partitions[0];
    await expect.poll(async () => { const l = (await partition0())?.leader; return l !== undefined && l > 0 && l !== leader; }, { timeout: 60_000, interval: 500 }).toBe(true);

    await runtime.start(victim);
    await expect.poll(async () => (await partition0())?.isr.length, { timeout: 60_000, interval: 500 }).toBe(3);
    const consumer = await clients.consumer('us-east', { kafkaJS: { groupId: uniqueName('g'), fromBeginning: true } });
    await consumer.subscribe({ topic });
    expect((await collect(consumer, 1))[0]?.value).toBe('still durable');
  });

  it('pauses a broker (SIGSTOP) so writes stall, and resumes it (SIGCONT) so they flow again', async () => {
    const topic = uniqueName('rt-pause');
    const admin = await clients.admin('eu-west');
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }] });
    // Connected before the pause: a frozen broker would also stall the connect itself.
    const stalled = await clients.producer('eu-west', { kafkaJS: { acks: -1 }, 'message.timeout.ms': 2_000 });
    await runtime.pause('eu-west/kafka-0');
    try {
      expect((await runtime.status()).find((s) => s.name === 'eu-west/kafka-0')).toMatchObject({ process: 'paused', healthy: false });
      await expect(stalled.send({ topic, messages: [{ value: 'while paused' }] })).rejects.toThrow(/timed out/i);
    } finally {
      await runtime.resume('eu-west/kafka-0');
    }
    expect((await runtime.status()).find((s) => s.name === 'eu-west/kafka-0')).toMatchObject({ process: 'running', healthy: true });
    const producer = await clients.producer('eu-west', { kafkaJS: { acks: -1 } });
    const [meta] = await producer.send({ topic, messages: [{ value: 'after resume' }] });
    expect(meta?.errorCode).toBe(0);
  });
});
