/**
 * The whole write path in three regions: ingest API → regional Kafka → replicator → every
 * region's indexer → OpenSearch → search API. Every region must converge to the same documents
 * with the same versions, whatever the order events arrive in, however often, and whatever
 * fails in between.
 */
import { describe, expect, it } from 'vitest';
import type { DocumentEvent } from '../../services/events/document-event.ts';
import { encodeEvent } from '../../services/events/document-event.ts';
import { HybridClock, regionIdOf } from '../../services/events/hybrid-clock.ts';
import type { WriteAccepted } from '../../services/ingest/ingest-api.ts';
import type { Stacks } from '../support/region-stack.ts';
import { useRegionStacks } from '../support/region-stack.ts';
import { useClients } from '../support/regions.ts';

const REGIONS = ['us-east', 'eu-west', 'ap-southeast'] as const;

function newer(a: WriteAccepted, b: WriteAccepted): WriteAccepted {
  return BigInt(a.version) > BigInt(b.version) ? a : b;
}

describe('convergence of all three regions', () => {
  const clients = useClients();
  const stacks = useRegionStacks(clients.runtime);

  /** Waits until every region's search API returns exactly `expected` (id → version) as live documents. */
  async function converged(s: Stacks, expected: ReadonlyMap<string, string>, timeout = 60_000): Promise<void> {
    const want = [...expected.entries()].sort();
    for (const region of REGIONS) {
      try {
        await expect
          .poll(async () => [...(await s.liveVersions(region)).entries()].sort(), { timeout, interval: 500, message: `documents in ${region}` })
          .toEqual(want);
      } catch (err) {
        console.log(`[convergence] ${region} did not converge; the pipeline then:\n${await s.diagnose()}`);
        throw err;
      }
    }
  }

  async function staleCounts(s: Stacks): Promise<number[]> {
    return Promise.all(REGIONS.map(async (r) => (await s.regions[r]?.indexerStatus())?.counts.stale ?? 0));
  }

  async function produceRaw(region: string, topic: string, events: DocumentEvent[]): Promise<void> {
    const producer = await clients.producer(region, { kafkaJS: { acks: -1, idempotent: true } });
    await producer.send({ topic, messages: events.map((e) => ({ key: e.id, value: encodeEvent(e) })) });
  }

  // One set of stacks for all of conflict resolution: the late update's wait overlaps the other
  // checks instead of adding to the suite's time. The wait must outlast index.gc_deletes, after
  // which OpenSearch forgets a hard delete's version; this test's indexes get 5 s instead of the
  // default 60 s, so the late update arrives 4 windows after the delete, not 1.5 (saves 70 s).
  it('versions decide, whatever the order and however late: a write in each region is searchable in all three; concurrent updates of one id end with the same winner everywhere; replays change nothing; a delete followed by an older update arriving 4× index.gc_deletes later stays deleted', async () => {
    const s = await stacks();
    const gcDeletesMs = 5_000;
    for (const region of REGIONS) {
      const search = clients.search(region);
      await expect.poll(async () => (await search.indices.exists({ index: s.prefix })).body, { timeout: 60_000 }).toBe(true);
      await search.indices.putSettings({ index: s.prefix, body: { index: { gc_deletes: `${gcDeletesMs / 1000}s` } } });
    }

    // A delete, and an update versioned before it (us-east's clock, now), held back and delivered 90 s after the delete.
    const first = await s.put('eu-west', 'late', { seq: 1, title: 'will be deleted' });
    const usClock = new HybridClock({ regionId: regionIdOf(Object.keys(s.deployment.regions), 'us-east') });
    const held: DocumentEvent = { schema: 1, id: 'late', op: 'upsert', version: usClock.next().decimal, origin: 'us-east', ts: new Date().toISOString(), body: { seq: 1, title: 'late and older' } };
    const gone = await s.del('ap-southeast', 'late');
    const deletedAt = Date.now();
    expect(BigInt(gone.version)).toBeGreaterThan(BigInt(held.version));
    expect(BigInt(held.version)).toBeGreaterThan(BigInt(first.version));
    const stored = async (region: string): Promise<Record<string, unknown> | undefined> => {
      const raw = await clients.search(region).get({ index: s.prefix, id: 'late' }, { ignore: [404] });
      return raw.body._source as Record<string, unknown> | undefined;
    };
    for (const region of REGIONS) await expect.poll(async () => (await stored(region))?.['_georeplica_version'], { timeout: 60_000 }).toBe(gone.version);

    const t0 = Date.now();
    const expected = new Map<string, string>();
    await Promise.all(
      REGIONS.map(async (region, i) => {
        const a = await s.put(region, `from-${region}`, { seq: i, title: `written in ${region}` });
        expected.set(a.id, a.version);
      }),
    );
    await converged(s, expected);
    console.log(`[convergence] one write per region searchable in all three after ${Date.now() - t0} ms`);

    // Concurrent writes of one id in two regions: the higher version wins in all three.
    const [us, eu] = await Promise.all([s.put('us-east', 'contested', { seq: 10, title: 'us-east says' }), s.put('eu-west', 'contested', { seq: 10, title: 'eu-west says' })]);
    const winner = newer(us, eu);
    expect(us.version).not.toBe(eu.version);
    expected.set('contested', winner.version);
    await converged(s, expected);
    const winnerTitle = winner === us ? 'us-east says' : 'eu-west says';
    for (const region of REGIONS) {
      const res = await s.query(region, { filters: { title: winnerTitle } });
      expect(res.body.hits.map((h) => h.id), region).toEqual(['contested']);
    }

    // The winning update replayed twice, and the losing one once, into eu-west's own topic: stale everywhere.
    const hit = (await s.query('eu-west', { filters: { seq: 10 } })).body.hits[0];
    expect(hit?.version).toBe(winner.version);
    const replay: DocumentEvent = { schema: 1, id: 'contested', op: 'upsert', version: hit?.version ?? '', origin: hit?.origin ?? '', ts: hit?.ts ?? '', body: { seq: 10, title: winnerTitle } };
    const loser = winner === us ? eu : us;
    const loserEvent: DocumentEvent = { ...replay, version: loser.version, origin: winner === us ? 'eu-west' : 'us-east', body: { seq: 10, title: 'the loser, replayed' } };
    const before = await staleCounts(s);
    await produceRaw('eu-west', s.documents, [replay, replay, loserEvent]);
    await expect.poll(async () => (await staleCounts(s)).map((n, i) => n - (before[i] ?? 0)), { timeout: 60_000 }).toEqual([3, 3, 3]);
    await converged(s, expected);
    for (const region of REGIONS) expect((await s.query(region, { filters: { title: 'the loser, replayed' } })).body.total, region).toBe(0);

    // Past index.gc_deletes: a hard delete's version would be forgotten by now.
    await new Promise((r) => setTimeout(r, Math.max(0, 4 * gcDeletesMs - (Date.now() - deletedAt))));
    const beforeLate = await staleCounts(s);
    await produceRaw('us-east', s.documents, [held]);
    await expect.poll(async () => (await staleCounts(s)).map((n, i) => n - (beforeLate[i] ?? 0)), { timeout: 60_000 }).toEqual([1, 1, 1]);
    await converged(s, expected);
    for (const region of REGIONS) expect(await stored(region), region).toMatchObject({ _georeplica_version: gone.version, _georeplica_deleted: true });
  });

  it("one region's OpenSearch killed for 30 s under steady writes in all regions: afterwards every document is there with its final version", async () => {
    const s = await stacks();
    const victim = 'ap-southeast';
    const finals = new Map<string, { version: bigint; op: 'upsert' | 'delete' }>();
    let writes = 0;
    let failures = 0;
    let stop = false;
    const writer = (async () => {
      // ~30 writes/s spread over the regions; 150 ids, so most writes update or delete an existing one.
      for (let n = 0; !stop; n++) {
        const region = REGIONS[n % REGIONS.length] ?? 'us-east';
        const seq = (n * 7919) % 150;
        const id = `doc-${seq}`;
        const op = n % 10 === 9 ? 'delete' : 'upsert';
        try {
          const a = op === 'delete' ? await s.del(region, id) : await s.put(region, id, { seq, title: `write ${n} in ${region}` });
          writes++;
          const v = BigInt(a.version);
          const prev = finals.get(id);
          if (!prev || v > prev.version) finals.set(id, { version: v, op });
        } catch {
          failures++;
        }
        await new Promise((r) => setTimeout(r, 33));
      }
    })();

    const searchHealth = async (): Promise<number> => (await fetch(`${s.regions[victim]?.searchUrl}/health`)).status;
    await new Promise((r) => setTimeout(r, 5_000));
    await clients.runtime.kill(`${victim}/opensearch`);
    const killedAt = Date.now();
    try {
      await expect.poll(searchHealth, { timeout: 5_000, interval: 100 }).toBe(503);
      console.log(`[convergence] ${victim} search endpoint reported down ${Date.now() - killedAt} ms after its OpenSearch was killed`);
      const res = await fetch(`${s.regions[victim]?.searchUrl}/search?q=x`);
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).not.toBeNull();
      await new Promise((r) => setTimeout(r, 30_000 - (Date.now() - killedAt)));
      expect((await s.regions[victim]?.indexerStatus())?.paused).toContain('search-unavailable');
    } finally {
      await clients.runtime.start(`${victim}/opensearch`);
    }
    await expect.poll(searchHealth, { timeout: 60_000, interval: 500 }).toBe(200);
    await new Promise((r) => setTimeout(r, 5_000));
    stop = true;
    await writer;
    expect(failures).toBe(0);
    const expected = new Map([...finals].filter(([, f]) => f.op === 'upsert').map(([id, f]) => [id, String(f.version)]));
    console.log(`[convergence] ${writes} writes (${finals.size} ids, ${expected.size} live at the end) while ${victim}'s OpenSearch was down for 30 s`);
    await converged(s, expected, 120_000);
  });

  it('an indexer SIGKILLed mid-bulk loses nothing: restarted, it indexes every document with its final version', async () => {
    const s = await stacks({ indexerProcess: ['eu-west'] });
    const eu = s.regions['eu-west'];
    await expect.poll(async () => (await eu?.indexerStatus().catch(() => undefined))?.state, { timeout: 60_000 }).toBe('running');
    const total = 4_000;
    const expected = new Map<string, string>();
    const bulk = async (from: number, to: number): Promise<void> => {
      const lines = [];
      for (let i = from; i < to; i++) lines.push(JSON.stringify({ op: 'upsert', id: `bulk-${i}`, body: { seq: i, title: `bulk document ${i}`, padding: 'x'.repeat(400) } }));
      const res = await fetch(`${s.regions['us-east']?.ingestUrl}/documents/_bulk`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: lines.join('\n') });
      expect(res.status).toBe(200);
      const body = (await res.json()) as { items: Array<{ id: string; version: string; status: number }> };
      for (const item of body.items) {
        expect(item.status).toBe(202);
        expected.set(item.id, item.version);
      }
    };
    const writing = (async () => {
      for (let i = 0; i < total; i += 250) await bulk(i, i + 250);
    })();
    // Kill it while it is in the middle of indexing.
    await expect.poll(async () => (await eu?.indexerStatus())?.counts.indexed ?? 0, { timeout: 60_000, interval: 20 }).toBeGreaterThan(300);
    const atKill = await eu?.indexerStatus();
    await eu?.indexerProcess?.kill();
    console.log(`[convergence] eu-west indexer SIGKILLed with ${atKill?.counts.indexed} indexed, ${atKill?.bufferedRecords} buffered`);
    await writing;
    expect(expected.size).toBe(total);
    await s.restartIndexer('eu-west');
    await converged(s, expected, 120_000);
  });
});
