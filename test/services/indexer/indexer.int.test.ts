import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../../core/logger.ts';
import type { Producer } from '../../../core/kafka.ts';
import type { DocumentEvent, JsonObject } from '../../../services/events/document-event.ts';
import { encodeEvent } from '../../../services/events/document-event.ts';
import { HybridClock, regionIdOf } from '../../../services/events/hybrid-clock.ts';
import { H_DLQ_OFFSET, H_DLQ_PARTITION, H_DLQ_REASON, H_DLQ_REASON_CODE, H_DLQ_TOPIC } from '../../../services/indexer/dead-letter.ts';
import type { IndexerOptions } from '../../../services/indexer/indexer.ts';
import { Indexer } from '../../../services/indexer/indexer.ts';
import { onlyLiveDocuments } from '../../../services/indexer/tombstone.ts';
import { readAll } from '../../support/copies.ts';
import { uniqueName } from '../../support/names.ts';
import { useClients } from '../../support/regions.ts';

const log = createLogger({ name: 'test-indexer', level: process.env['TEST_LOG_LEVEL'] ?? 'warn' });
const REGION = 'eu-west';

describe('indexer', () => {
  const clients = useClients();
  const deployment = clients.runtime.deployment;
  const searchUrl = deployment.regions[REGION]?.search.url ?? '';
  const clock = new HybridClock({ regionId: regionIdOf(Object.keys(deployment.regions), REGION) });
  const indexers: Indexer[] = [];
  afterEach(async () => {
    await Promise.all(indexers.splice(0).map((i) => i.stop()));
  });

  /** Unique names per test, with the local topic and us-east's copy created in eu-west. */
  async function scenario(partitions = 2): Promise<{ base: string; documents: string; copy: string; dlq: string; groupId: string; producer: Producer; options: IndexerOptions }> {
    const base = uniqueName('ix');
    const documents = `${base}-documents`;
    const copy = `us-east.${documents}`;
    const admin = await clients.admin(REGION);
    await admin.createTopics({ topics: [documents, copy].map((topic) => ({ topic, numPartitions: partitions, configEntries: [{ name: 'retention.ms', value: '3600000' }] })) });
    const producer = await clients.producer(REGION, { kafkaJS: { acks: -1, idempotent: true } });
    const dlq = `${base}.dlq`;
    const groupId = uniqueName('gix');
    return { base, documents, copy, dlq, groupId, producer, options: { deployment, region: REGION, log, topics: { documents, heartbeats: `${base}-heartbeats` }, index: base, deadLetterTopic: dlq, groupId, flushIntervalMs: 100 } };
  }

  function start(options: IndexerOptions): Indexer {
    const indexer = new Indexer(options);
    indexers.push(indexer);
    indexer.start();
    return indexer;
  }

  function upsert(id: string, body: JsonObject, origin = REGION): DocumentEvent {
    return { schema: 1, id, op: 'upsert', version: clock.next().decimal, origin, ts: new Date().toISOString(), body };
  }
  function del(id: string): DocumentEvent {
    return { schema: 1, id, op: 'delete', version: clock.next().decimal, origin: REGION, ts: new Date().toISOString() };
  }
  async function produce(producer: Producer, topic: string, events: DocumentEvent[]): Promise<void> {
    await producer.send({ topic, messages: events.map((e) => ({ key: e.id, value: encodeEvent(e) })) });
  }

  /** The stored document with its exact version (the client's JSON parse would round a 63-bit number). */
  async function getDoc(alias: string, id: string): Promise<{ found: boolean; version?: string; source?: Record<string, unknown> }> {
    const res = await fetch(`${searchUrl}/${alias}/_doc/${encodeURIComponent(id)}`);
    const text = await res.text();
    const parsed = JSON.parse(text) as { found: boolean; _source?: Record<string, unknown> };
    const version = /"_version":(\d+)/.exec(text)?.[1];
    return { found: parsed.found, ...(version ? { version } : {}), ...(parsed._source ? { source: parsed._source } : {}) };
  }

  async function searchIds(alias: string, query: Record<string, unknown>): Promise<string[]> {
    const search = clients.search(REGION);
    await search.indices.refresh({ index: alias });
    const res = await search.search({ index: alias, body: { query, size: 100 } });
    return (res.body.hits.hits as Array<{ _id: string }>).map((h) => h._id).sort();
  }

  async function committed(groupId: string, topic: string): Promise<number> {
    const admin = await clients.admin(REGION);
    const offsets = await admin.fetchOffsets({ groupId, topics: [topic] });
    return offsets.flatMap((t) => t.partitions).reduce((n, p) => n + Math.max(0, Number(p.offset)), 0);
  }

  it('indexes events from the local topic and the copies with their versions; stale and replayed events change nothing', async () => {
    const s = await scenario();
    const a1 = upsert('a', { title: 'first' });
    const b1 = upsert('b', { title: 'bee' });
    const c1 = upsert('c', { title: 'from us-east' }, 'us-east');
    await produce(s.producer, s.documents, [a1, b1]);
    await produce(s.producer, s.copy, [c1]);
    const indexer = start(s.options);
    await indexer.ready();
    await expect.poll(async () => (await getDoc(s.base, 'c')).version, { timeout: 30_000 }).toBe(c1.version);
    await expect.poll(async () => (await getDoc(s.base, 'a')).version, { timeout: 30_000 }).toBe(a1.version);
    expect((await getDoc(s.base, 'b')).source).toMatchObject({ title: 'bee', _georeplica_version: b1.version });

    // A newer write, then an older one arriving late, then the newer one replayed.
    const older = upsert('a', { title: 'older' });
    const newer = upsert('a', { title: 'newer' });
    await produce(s.producer, s.documents, [newer]);
    await expect.poll(async () => (await getDoc(s.base, 'a')).version, { timeout: 30_000 }).toBe(newer.version);
    await produce(s.producer, s.documents, [older, newer, b1]);
    await expect.poll(() => indexer.status().counts.stale, { timeout: 30_000 }).toBeGreaterThanOrEqual(3);
    const a = await getDoc(s.base, 'a');
    expect(a.version).toBe(newer.version);
    expect(a.source?.['title']).toBe('newer');
    expect((await getDoc(s.base, 'b')).version).toBe(b1.version);
    const st = indexer.status();
    expect(st.counts.indexed).toBe(4);
    expect(st.counts.deadLettered).toBe(0);
    expect(st.index).toBe(`${s.base}-v1`);
    expect(st.freshness[REGION]?.lastIndexedEventAt).not.toBeNull();
    expect(st.freshness['us-east']?.lastIndexedEventAt).toBe(c1.ts);
  });

  it('a delete leaves a tombstone that a later, older upsert cannot overwrite; searches hide it', async () => {
    const s = await scenario(1);
    const up1 = upsert('d', { title: 'to delete' });
    const lateUpsert = upsert('d', { title: 'late but older' });
    const gone = del('d');
    const keep = upsert('e', { title: 'kept' });
    await produce(s.producer, s.documents, [up1, gone, keep]);
    const indexer = start(s.options);
    await indexer.ready();
    await expect.poll(async () => (await getDoc(s.base, 'd')).version, { timeout: 30_000 }).toBe(gone.version);
    await produce(s.producer, s.documents, [lateUpsert]);
    await expect.poll(() => indexer.status().counts.stale, { timeout: 30_000 }).toBe(1);
    const d = await getDoc(s.base, 'd');
    expect(d.version).toBe(gone.version);
    expect(d.source).toMatchObject({ _georeplica_deleted: true, _georeplica_version: gone.version });
    expect(d.source?.['title']).toBeUndefined();
    expect(await searchIds(s.base, onlyLiveDocuments())).toEqual(['e']);
    expect(await searchIds(s.base, { match_all: {} })).toEqual(['d', 'e']);

    // A newer upsert brings it back.
    const revived = upsert('d', { title: 'back' });
    await produce(s.producer, s.documents, [revived]);
    await expect.poll(async () => (await getDoc(s.base, 'd')).version, { timeout: 30_000 }).toBe(revived.version);
    expect(await searchIds(s.base, onlyLiveDocuments({ match: { title: 'back' } }))).toEqual(['d']);
  });

  it('dead-letters poison records (bad bytes, mapping rejections) with reason and coordinates; the rest keeps flowing', async () => {
    const s = await scenario(1);
    const first = upsert('n1', { count: 1 });
    await produce(s.producer, s.documents, [first]);
    await s.producer.send({ topic: s.documents, messages: [{ key: 'junk', value: Buffer.from([0xff, 0x00, 0x7b, 0x22]), headers: { 'x-app': 'test' } }] });
    const bad = upsert('n2', { count: 'not a number' });
    const after = upsert('n3', { count: 3 });
    const indexer = start(s.options);
    await indexer.ready();
    await expect.poll(async () => (await getDoc(s.base, 'n1')).found, { timeout: 30_000 }).toBe(true);
    await produce(s.producer, s.documents, [bad, after]);
    await expect.poll(async () => (await getDoc(s.base, 'n3')).version, { timeout: 30_000 }).toBe(after.version);
    expect((await getDoc(s.base, 'n2')).found).toBe(false);

    const letters = await readAll(clients.kafka(REGION), s.dlq, 2, 30_000);
    expect(letters).toHaveLength(2);
    const [junk, refused] = letters;
    expect(junk?.key).toBe('junk');
    expect(junk?.headers['x-app']).toBe('test');
    expect(junk?.headers[H_DLQ_REASON_CODE]).toBe('invalid_event');
    expect(junk?.headers[H_DLQ_REASON]).toMatch(/Invalid document event/);
    expect(junk?.headers[H_DLQ_TOPIC]).toBe(s.documents);
    expect(junk?.headers[H_DLQ_PARTITION]).toBe('0');
    expect(junk?.headers[H_DLQ_OFFSET]).toBe('1');
    expect(refused?.key).toBe('n2');
    expect(refused?.value).toBe(encodeEvent(bad).toString());
    expect(refused?.headers[H_DLQ_REASON_CODE]).toBe('rejected');
    expect(refused?.headers[H_DLQ_REASON]).toMatch(/mapper_parsing_exception|number_format/);
    expect(refused?.headers[H_DLQ_OFFSET]).toBe('2');

    const metric = await indexer.metrics.deadLetters.get();
    const byReason: Record<string, number> = {};
    for (const v of metric.values) byReason[String(v.labels.reason)] = v.value;
    expect(byReason).toEqual({ invalid_event: 1, rejected: 1 });
    // Everything handled, so everything is committed: 4 records on the one partition.
    await expect.poll(() => committed(s.groupId, s.documents), { timeout: 15_000 }).toBe(4);
  });

  it('commits offsets only after the records are in the index; while OpenSearch is unreachable nothing is committed or lost', async () => {
    const s = await scenario(2);
    const events = Array.from({ length: 20 }, (_, i) => upsert(`o${i}`, { i }));
    await produce(s.producer, s.documents, events);

    // OpenSearch unreachable: the indexer keeps retrying its setup and commits nothing.
    const down = start({ ...s.options, searchUrl: 'http://127.0.0.1:1', drainTimeoutMs: 1_000 });
    await new Promise((r) => setTimeout(r, 3_000));
    expect(down.status().state).toBe('starting');
    expect(down.status().lastError).toMatch(/creating index/);
    await down.stop();
    expect(await committed(s.groupId, s.documents)).toBe(0);

    // Reachable again: every record is indexed, then committed.
    const up = start(s.options);
    await up.ready();
    await expect.poll(() => up.status().counts.indexed, { timeout: 30_000 }).toBe(20);
    await up.stop();
    expect(await committed(s.groupId, s.documents)).toBe(20);
    const search = clients.search(REGION);
    await search.indices.refresh({ index: s.base });
    const count = (await search.count({ index: s.base })) as { body: { count: number } };
    expect(count.body.count).toBe(20);

    // A restart in the same group reads nothing again.
    const again = start(s.options);
    await again.ready();
    const more = upsert('o-last', { i: 99 });
    await produce(s.producer, s.documents, [more]);
    await expect.poll(async () => (await getDoc(s.base, 'o-last')).found, { timeout: 30_000 }).toBe(true);
    expect(again.status().counts).toEqual({ indexed: 1, stale: 0, deadLettered: 0 });
  });

  it('reports freshness per source from replicated heartbeats and indexing', async () => {
    const s = await scenario(1);
    const admin = await clients.admin(REGION);
    const hbTopics = ['us-east', 'ap-southeast'].map((r) => `${r}.${s.base}-heartbeats`);
    await admin.createTopics({ topics: hbTopics.map((topic) => ({ topic, numPartitions: 1 })) });
    const indexer = start(s.options);
    await indexer.ready();
    expect(indexer.status().freshness['us-east']?.freshnessMs).toBeNull();
    const sentAt = Date.now() - 5_000;
    // The tracker reads from the end: keep writing until it has seen one.
    await expect
      .poll(
        async () => {
          await s.producer.send({ topic: hbTopics[0] as string, messages: [{ key: 'us-east', value: JSON.stringify({ region: 'us-east', ts: sentAt }) }] });
          return indexer.status().freshness['us-east']?.heartbeatAgeMs ?? null;
        },
        { timeout: 30_000, interval: 1_000 },
      )
      .toBeGreaterThanOrEqual(5_000);
    const f = indexer.status().freshness;
    expect(f['us-east']?.freshnessMs).toBeGreaterThanOrEqual(5_000);
    expect(f[REGION]?.freshnessMs).toBe(0);
    expect(f['ap-southeast']?.freshnessMs).toBeNull();
    const text = await indexer.metrics.registry.metrics();
    expect(text).toMatch(/georeplica_indexer_freshness_seconds\{source="us-east"\} (5|6|7|8|9)\./);
  });
});
