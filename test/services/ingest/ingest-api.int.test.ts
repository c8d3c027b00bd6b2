import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { validateDeployment } from '../../../config/load.ts';
import { KafkaJS } from '../../../core/kafka.ts';
import { createLogger } from '../../../core/logger.ts';
import { decodeEvent } from '../../../services/events/document-event.ts';
import type { DocumentEvent } from '../../../services/events/document-event.ts';
import { decodeVersion, regionIdOf } from '../../../services/events/hybrid-clock.ts';
import { buildIngestApi } from '../../../services/ingest/ingest-api.ts';
import type { BulkBody, HealthBody, IngestApi, IngestApiOptions, WriteAccepted } from '../../../services/ingest/ingest-api.ts';
import { collect } from '../../support/kafka.ts';
import type { Received } from '../../support/kafka.ts';
import { uniqueName } from '../../support/names.ts';
import { useClients } from '../../support/regions.ts';

const log = createLogger({ name: 'test-ingest', level: process.env['TEST_LOG_LEVEL'] ?? 'warn' });
const REGION = 'us-east';

interface ErrorBody {
  error: { code: string; message: string; details: Record<string, unknown> };
}

describe('ingest API', () => {
  const clients = useClients();
  const apis: IngestApi[] = [];
  afterEach(async () => {
    await Promise.all(apis.splice(0).map((a) => a.close()));
  });

  async function setup(o: Partial<IngestApiOptions> = {}): Promise<{ api: IngestApi; topic: string }> {
    const topic = uniqueName('ingest');
    const api = await buildIngestApi({ deployment: clients.runtime.deployment, region: REGION, log, topic, ...o });
    apis.push(api);
    return { api, topic };
  }

  /** The topic's records as a read_committed consumer sees them. */
  async function read(topic: string, count: number): Promise<Received[]> {
    const consumer = await clients.consumer(REGION, { 'isolation.level': 'read_committed', kafkaJS: { groupId: uniqueName('ingest-test'), fromBeginning: true, autoCommit: false } });
    await consumer.subscribe({ topic });
    return collect(consumer, count, 60_000);
  }

  /** Records in the topic (sum of the partitions' end offsets). */
  async function recordCount(topic: string): Promise<number> {
    const admin = await clients.admin(REGION);
    const offsets = await admin.fetchTopicOffsets(topic, { isolationLevel: KafkaJS.IsolationLevel.READ_COMMITTED });
    return offsets.reduce((n, o) => n + Number(o.offset), 0);
  }

  function event(r: Received): DocumentEvent {
    const decoded = decodeEvent(Buffer.from(r.value ?? '', 'utf8'));
    if (!decoded.ok) throw new Error(decoded.reason);
    return decoded.event;
  }

  function accepted(res: LightMyRequestResponse): WriteAccepted {
    expect(res.statusCode, res.body).toBe(202);
    const body = res.json<WriteAccepted>();
    expect(Object.keys(body).sort()).toEqual(['id', 'offset', 'partition', 'version']);
    return body;
  }

  function refused(res: LightMyRequestResponse, status: number, code: string): ErrorBody['error'] {
    expect(res.statusCode, res.body).toBe(status);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    const body = res.json<ErrorBody>();
    expect(body.error.code).toBe(code);
    expect(res.body).not.toMatch(/\bat .*\.ts:\d+/);
    return body.error;
  }

  const put = (api: IngestApi, id: string, body: unknown): Promise<LightMyRequestResponse> => api.app.inject({ method: 'PUT', url: `/documents/${id}`, payload: body as object });

  it('writes an upsert as a valid event keyed by id, at the partition and offset it answers', async () => {
    const { api, topic } = await setup();
    const admin = await clients.admin(REGION);
    // The API created the topic at startup, with 6 partitions.
    expect(await admin.fetchTopicOffsets(topic)).toHaveLength(6);

    const body = { title: 'Blue kettle', price: 39.9, tags: ['kitchen'] };
    const ack = accepted(await put(api, 'sku-42', body));
    expect(ack.id).toBe('sku-42');

    const [record] = await read(topic, 1);
    expect(record?.key).toBe('sku-42');
    expect({ partition: record?.partition, offset: record?.offset }).toEqual({ partition: ack.partition, offset: ack.offset });
    const e = event(record as Received);
    expect(e).toMatchObject({ schema: 1, id: 'sku-42', op: 'upsert', version: ack.version, origin: REGION, body });
    expect(Date.now() - Date.parse(e.ts)).toBeLessThan(60_000);
    expect(decodeVersion(BigInt(ack.version)).regionId).toBe(regionIdOf(Object.keys(clients.runtime.deployment.regions), REGION));
  });

  it('gives successive writes of one id rising versions in one partition, and a delete a delete event', async () => {
    const { api, topic } = await setup();
    const acks = [accepted(await put(api, 'doc-1', { n: 1 })), accepted(await put(api, 'doc-1', { n: 2 })), accepted(await put(api, 'doc-1', { n: 3 }))];
    acks.push(accepted(await api.app.inject({ method: 'DELETE', url: '/documents/doc-1' })));
    for (let i = 1; i < acks.length; i++) {
      expect(BigInt(acks[i]?.version ?? 0) > BigInt(acks[i - 1]?.version ?? 0)).toBe(true);
      expect(acks[i]?.partition).toBe(acks[0]?.partition);
      expect(BigInt(acks[i]?.offset ?? 0)).toBe(BigInt(acks[i - 1]?.offset ?? 0) + 1n);
    }

    const records = await read(topic, 4);
    const events = records.map(event);
    expect(records.map((r) => r.key)).toEqual(['doc-1', 'doc-1', 'doc-1', 'doc-1']);
    expect(events.map((e) => e.version)).toEqual(acks.map((a) => a.version));
    expect(events.map((e) => e.op)).toEqual(['upsert', 'upsert', 'upsert', 'delete']);
    expect(events[3]).not.toHaveProperty('body');
    expect(events[2]).toMatchObject({ body: { n: 3 } });
  });

  it('generates an id for POST /documents', async () => {
    const { api, topic } = await setup();
    const res = await api.app.inject({ method: 'POST', url: '/documents', payload: { title: 'no id' } });
    const ack = accepted(res);
    expect(ack.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(res.headers['location']).toBe(`/documents/${ack.id}`);
    const [record] = await read(topic, 1);
    expect(record?.key).toBe(ack.id);
    expect(event(record as Received)).toMatchObject({ id: ack.id, op: 'upsert', body: { title: 'no id' } });
  });

  it('answers a bulk request line by line and writes only the good lines', async () => {
    const { api, topic } = await setup();
    const lines = [
      JSON.stringify({ op: 'upsert', id: 'a', body: { t: 1 } }), // 1
      '{"op":"upsert","id":"b",', // 2: not JSON
      JSON.stringify({ op: 'delete', id: 'c' }), // 3
      '', // 4: blank, skipped
      JSON.stringify({ op: 'upsert', id: 'a b', body: {} }), // 5: bad id
      JSON.stringify({ op: 'put', id: 'd', body: {} }), // 6: bad op
      JSON.stringify({ op: 'upsert', id: 'e' }), // 7: no body
      JSON.stringify({ op: 'delete', id: 'f', body: {} }), // 8: body on delete
      JSON.stringify({ op: 'upsert', id: 'g', body: { x: 1 }, extra: true }), // 9: unknown field
      JSON.stringify({ op: 'upsert', id: 'a', body: { t: 2 } }), // 10
    ];
    const res = await api.app.inject({ method: 'POST', url: '/documents/_bulk', headers: { 'content-type': 'application/x-ndjson' }, payload: `${lines.join('\n')}\n` });
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json<BulkBody>();
    expect(body.errors).toBe(true);
    expect(body.items.map((i) => [i.line, i.status])).toEqual([
      [1, 202],
      [2, 400],
      [3, 202],
      [5, 400],
      [6, 400],
      [7, 400],
      [8, 400],
      [9, 400],
      [10, 202],
    ]);
    const messages = Object.fromEntries(body.items.map((i) => [i.line, 'error' in i ? i.error.message : '']));
    expect(messages[2]).toMatch(/^Invalid bulk line 2 \(1 problem\):\n {2}- \(line\): got "\{\\"op\\":\\"upsert\\",\\"id\\":\\"b\\","; expected one JSON object per line/);
    expect(messages[5]).toBe('Invalid bulk line 5 (1 problem):\n  - id: got "a b"; expected a document id of only A-Z a-z 0-9 and - . _ ~ : @ (found " " at position 1)');
    expect(messages[6]).toBe('Invalid bulk line 6 (1 problem):\n  - op: got "put"; expected op: "upsert" or "delete"');
    expect(messages[7]).toBe('Invalid bulk line 7 (1 problem):\n  - body: got nothing (the key is missing); expected a body (a JSON object) for op "upsert"');
    expect(messages[8]).toBe('Invalid bulk line 8 (1 problem):\n  - body: got {}; expected no body for op "delete"');
    expect(messages[9]).toBe('Invalid bulk line 9 (1 problem):\n  - extra: got "extra"; expected no such field; the fields are op, id, body');
    expect(body.items.find((i) => i.line === 6)).toMatchObject({ op: 'put', id: 'd', error: { code: 'EVENT_INVALID' } });

    const acks = body.items.filter((i) => i.status === 202) as Array<WriteAccepted & { line: number; op: string }>;
    expect(BigInt(acks[2]?.version ?? 0) > BigInt(acks[0]?.version ?? 0)).toBe(true);
    const records = await read(topic, 3);
    const seen = records.map((r) => ({ key: r.key, partition: r.partition, offset: r.offset, op: event(r).op, version: event(r).version }));
    expect(seen.sort((x, y) => x.version.localeCompare(y.version))).toEqual(acks.map((a) => ({ key: a.id, partition: a.partition, offset: a.offset, op: a.op, version: a.version })));
    expect(await recordCount(topic)).toBe(3);
  });

  it('refuses bad requests with 400 naming the field and the rule, and writes nothing', async () => {
    const { api, topic } = await setup({ limits: { maxBodyBytes: 1_000 } });
    const json = { 'content-type': 'application/json' };
    const cases: Array<{ name: string; req: InjectOptions; code: string; message: string | RegExp }> = [
      {
        name: 'bad id characters',
        req: { method: 'PUT', url: '/documents/a%20b', payload: {} },
        code: 'EVENT_INVALID',
        message: 'Invalid document (1 problem):\n  - id: got "a b"; expected a document id of only A-Z a-z 0-9 and - . _ ~ : @ (found " " at position 1)',
      },
      { name: 'id starting with _', req: { method: 'PUT', url: '/documents/_x', payload: {} }, code: 'EVENT_INVALID', message: 'Invalid document (1 problem):\n  - id: got "_x"; expected a document id starting with a letter or digit' },
      {
        name: 'id too long',
        req: { method: 'PUT', url: `/documents/${'a'.repeat(513)}`, payload: {} },
        code: 'EVENT_INVALID',
        message: /^Invalid document \(1 problem\):\n {2}- id: got "a+\.\.\."; expected a document id of at most 512 characters \(got 513\)$/,
      },
      {
        name: 'missing id',
        req: { method: 'PUT', url: '/documents', payload: {} },
        code: 'EVENT_INVALID',
        message: 'Invalid document (1 problem):\n  - id: got nothing (the key is missing); expected a document id in the path: PUT /documents/<id> (or POST /documents to have one generated)',
      },
      { name: 'missing id on delete', req: { method: 'DELETE', url: '/documents/' }, code: 'EVENT_INVALID', message: 'Invalid document (1 problem):\n  - id: got nothing (the key is missing); expected a document id in the path: DELETE /documents/<id>' },
      { name: 'wrong JSON', req: { method: 'PUT', url: '/documents/a', headers: json, payload: '{"a":' }, code: 'INVALID_ARGUMENT', message: /^Invalid request \(1 problem\):\n {2}- body: got "\{\\"a\\":"; expected JSON text \(.+\)$/ },
      { name: 'no body', req: { method: 'PUT', url: '/documents/a', headers: json }, code: 'EVENT_INVALID', message: 'Invalid document (1 problem):\n  - body: got nothing (the key is missing); expected a body (a JSON object) for op "upsert"' },
      { name: 'list body', req: { method: 'PUT', url: '/documents/a', headers: json, payload: '[1,2]' }, code: 'EVENT_INVALID', message: 'Invalid document (1 problem):\n  - body: got [1,2]; expected a JSON object (not a list, null, string, number or boolean)' },
      { name: 'string body', req: { method: 'PUT', url: '/documents/a', headers: json, payload: '"x"' }, code: 'EVENT_INVALID', message: 'Invalid document (1 problem):\n  - body: got "x"; expected a JSON object (not a list, null, string, number or boolean)' },
      {
        name: 'reserved field',
        req: { method: 'PUT', url: '/documents/a', payload: { _id: 'b' } },
        code: 'EVENT_INVALID',
        message: 'Invalid document (1 problem):\n  - body._id: got "_id"; expected no top-level field starting with "_": those names are reserved for OpenSearch metadata (_id, _source, ...)',
      },
      { name: 'body over the limit', req: { method: 'PUT', url: '/documents/a', payload: { t: 'x'.repeat(1_000) } }, code: 'EVENT_INVALID', message: 'Invalid document (1 problem):\n  - body: got 1008; expected at most 1000 bytes once encoded as JSON' },
      {
        name: 'request body over the raw limit',
        req: { method: 'PUT', url: '/documents/a', headers: json, payload: `{"t":"${'x'.repeat(70_000)}"}` },
        code: 'INVALID_ARGUMENT',
        message: 'Invalid request (1 problem):\n  - body: got "70008 bytes"; expected a request body of at most 66536 bytes',
      },
      {
        name: 'unknown content type',
        req: { method: 'PUT', url: '/documents/a', headers: { 'content-type': 'text/plain' }, payload: 'hello' },
        code: 'INVALID_ARGUMENT',
        message: 'Invalid request (1 problem):\n  - content-type: got "text/plain"; expected "application/json" for PUT /documents/:id',
      },
      {
        name: 'JSON to the bulk route',
        req: { method: 'POST', url: '/documents/_bulk', headers: json, payload: '{}' },
        code: 'INVALID_ARGUMENT',
        message: 'Invalid request (1 problem):\n  - content-type: got "application/json"; expected "application/x-ndjson" or "application/ndjson" for POST /documents/_bulk',
      },
      {
        name: 'empty bulk',
        req: { method: 'POST', url: '/documents/_bulk', headers: { 'content-type': 'application/x-ndjson' }, payload: '\n\n' },
        code: 'INVALID_ARGUMENT',
        message: 'Invalid request (1 problem):\n  - body: got "\\n\\n"; expected at least one action line, e.g. {"op":"upsert","id":"a","body":{...}} or {"op":"delete","id":"b"}',
      },
      { name: 'body on delete', req: { method: 'DELETE', url: '/documents/a', headers: json, payload: '{}' }, code: 'INVALID_ARGUMENT', message: 'Invalid request (1 problem):\n  - body: got "2 bytes"; expected no body for DELETE /documents/:id' },
    ];
    for (const c of cases) {
      const res = await api.app.inject(c.req);
      const error = refused(res, 400, c.code);
      if (typeof c.message === 'string') expect(error.message, c.name).toBe(c.message);
      else expect(error.message, c.name).toMatch(c.message);
      expect(Array.isArray(error.details['problems']), c.name).toBe(true);
    }
    expect(await recordCount(topic)).toBe(0);
    const metrics = (await api.app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(metrics).toMatch(/georeplica_ingest_requests_total\{op="upsert",outcome="invalid"\} \d+/);
  });

  it('reports health and metrics', async () => {
    const { api, topic } = await setup();
    const health = await api.app.inject({ method: 'GET', url: '/health' });
    expect(health.statusCode, health.body).toBe(200);
    expect(health.json<HealthBody>()).toMatchObject({ status: 'ok', region: REGION, topic, kafka: { reachable: true, producer: 'connected' } });
    accepted(await put(api, 'm-1', { a: 1 }));
    const res = await api.app.inject({ method: 'GET', url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    expect(res.body).toContain('georeplica_ingest_requests_total{op="upsert",outcome="accepted"} 1');
    expect(res.body).toContain('georeplica_ingest_produce_latency_seconds_count{outcome="acknowledged"} 1');
    expect(res.body).toContain('georeplica_ingest_events_total{op="upsert"} 1');
    expect(res.body).toContain('georeplica_ingest_kafka_up 1');
  });

  it('answers 503 with Retry-After, never 202, when Kafka cannot be reached', async () => {
    // A copy of the deployment whose us-east points at a port nothing listens on: the shared brokers are left alone.
    const doc = structuredClone(clients.runtime.deployment) as unknown as { regions: Record<string, { kafka: { bootstrap: string[] } }> };
    const region = doc.regions[REGION];
    if (!region) throw new Error('no us-east');
    region.kafka.bootstrap = ['127.0.0.1:1'];
    const deployment = validateDeployment(doc, 'unreachable us-east');
    const t0 = Date.now();
    const { api } = await setup({ deployment, producer: { messageTimeoutMs: 2_000 } });
    expect(Date.now() - t0).toBeLessThan(5_000);

    const started = Date.now();
    const res = await put(api, 'doc-1', { a: 1 });
    expect(Date.now() - started).toBeLessThan(5_000);
    const error = refused(res, 503, 'KAFKA_UNAVAILABLE');
    expect(res.headers['retry-after']).toBe('5');
    expect(error.message).toMatch(/^Kafka of region us-east is unavailable: no broker of 127\.0\.0\.1:1 answers/);

    refused(await api.app.inject({ method: 'DELETE', url: '/documents/doc-1' }), 503, 'KAFKA_UNAVAILABLE');
    // Bad input is still 400: validation comes before Kafka.
    refused(await put(api, 'a b', {}), 400, 'EVENT_INVALID');

    const bulk = await api.app.inject({ method: 'POST', url: '/documents/_bulk', headers: { 'content-type': 'application/x-ndjson' }, payload: '{"op":"upsert","id":"a","body":{}}\nnot json\n' });
    const bulkError = refused(bulk, 503, 'KAFKA_UNAVAILABLE');
    expect(bulk.headers['retry-after']).toBe('5');
    expect((bulkError.details['items'] as Array<{ line: number; status: number }>).map((i) => [i.line, i.status])).toEqual([
      [1, 503],
      [2, 400],
    ]);

    const health = await api.app.inject({ method: 'GET', url: '/health' });
    expect(health.statusCode).toBe(503);
    expect(health.json<HealthBody>()).toMatchObject({ status: 'unavailable', kafka: { reachable: false } });
    const metrics = (await api.app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(metrics).toContain('georeplica_ingest_requests_total{op="upsert",outcome="unavailable"} 1');
    expect(metrics).toContain('georeplica_ingest_kafka_up 0');
  });
});
