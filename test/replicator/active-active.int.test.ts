import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../core/logger.ts';
import { sleep } from '../../core/retry.ts';
import { readOrigin } from '../../replicator/provenance.ts';
import { Replicator } from '../../replicator/replicator.ts';
import { audit, committedEnds, readAll } from '../support/copies.ts';
import { steadyLoad } from '../support/load.ts';
import { useClients } from '../support/regions.ts';
import { testReplication } from '../support/replication.ts';

const REGIONS = ['us-east', 'eu-west', 'ap-southeast'] as const;
const log = createLogger({ name: 'test-active-active', level: process.env['TEST_LOG_LEVEL'] ?? 'warn' });

describe('active-active replication across all six flows', () => {
  const clients = useClients();
  const replicators: Replicator[] = [];
  afterEach(async () => {
    await Promise.all(replicators.splice(0).map((r) => r.stop()));
  });

  async function writeEverywhere(topic: string, perRegion: number): Promise<void> {
    for (const region of REGIONS) {
      await (await clients.admin(region)).createTopics({ topics: [{ topic, numPartitions: 2 }] });
      const p = await clients.producer(region, { kafkaJS: { acks: -1, idempotent: true } });
      await p.send({ topic, messages: Array.from({ length: perRegion }, (_, i) => ({ key: `${region}-${i % 7}`, value: `${region}-${i}` })) });
    }
  }

  function startAll(deployment: Parameters<typeof testReplication>[0]['deployment']): void {
    for (const region of REGIONS) {
      const r = new Replicator({ deployment, region, log });
      replicators.push(r);
      r.start();
    }
  }

  it('prefix naming, under steady load in all three regions: every copy exactly once and in order on all six flows, and no copy of a copy', async () => {
    const t = testReplication(clients.runtime, { naming: 'prefix' });
    const topic = `${t.prefix}-docs`;
    for (const region of REGIONS) await (await clients.admin(region)).createTopics({ topics: [{ topic, numPartitions: 2 }] });
    startAll(t.deployment);
    const loads = await Promise.all(REGIONS.map(async (region) => steadyLoad(await clients.producer(region, { kafkaJS: { acks: -1, idempotent: true } }), topic, 300)));
    await sleep(8_000);
    await Promise.all(loads.map((l) => l.stop()));

    for (const source of REGIONS) {
      const ends = await committedEnds(await clients.admin(source), topic);
      const total = [...ends.values()].reduce((a, b) => a + b, 0);
      expect(total).toBeGreaterThan(1_000);
      for (const target of REGIONS.filter((r) => r !== source)) {
        const copies = await readAll(clients.kafka(target), `${source}.${topic}`, total);
        const a = audit(copies);
        expect({ flow: `${source}->${target}`, total: a.total, duplicates: a.duplicates.length, outOfOrder: a.outOfOrder }).toEqual({ flow: `${source}->${target}`, total, duplicates: 0, outOfOrder: [] });
        for (const [p, end] of ends) expect(a.byPartition.get(p)).toEqual(Array.from({ length: end }, (_, i) => i));
        expect(copies.every((c) => readOrigin(c.headers)?.region === source && readOrigin(c.headers)?.hops.join('>') === `${source}>${target}`)).toBe(true);
      }
    }
    // Give the topic sync a few rounds: a copy of a copy would appear now if loops were possible.
    await sleep(3_000);
    for (const region of REGIONS) {
      const topics = (await (await clients.admin(region)).listTopics()).filter((x) => x.includes(t.prefix));
      const expected = [topic, `${t.heartbeats}`, ...REGIONS.filter((r) => r !== region).flatMap((s) => [`${s}.${topic}`, `${s}.${t.heartbeats}`])];
      expect(topics.filter((x) => !x.startsWith(`${t.instance}.`)).sort()).toEqual(expected.sort());
    }
  });

  it('identity naming: each region’s topic converges to every region’s records exactly once, with no loop', async () => {
    const t = testReplication(clients.runtime, { naming: 'identity' });
    const topic = `${t.prefix}-docs`;
    const N = 300;
    await writeEverywhere(topic, N);
    startAll(t.deployment);

    for (const region of REGIONS) {
      const all = await readAll(clients.kafka(region), topic, 3 * N);
      expect(all).toHaveLength(3 * N);
      const values = all.map((r) => r.value);
      expect(new Set(values).size).toBe(3 * N);
      for (const source of REGIONS) {
        const fromSource = all.filter((r) => (r.value ?? '').startsWith(`${source}-`));
        expect(fromSource).toHaveLength(N);
        if (source !== region) expect(fromSource.every((r) => readOrigin(r.headers)?.region === source && readOrigin(r.headers)?.hops.join('>') === `${source}>${region}`)).toBe(true);
        else expect(fromSource.every((r) => readOrigin(r.headers) === undefined)).toBe(true);
      }
    }
    await sleep(3_000);
    for (const region of REGIONS) {
      const all = await readAll(clients.kafka(region), topic, 3 * N, 5_000);
      expect(all).toHaveLength(3 * N);
    }
  });
});
