import { Writable } from 'node:stream';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { afterEach, describe, expect, it, onTestFinished } from 'vitest';
import { KafkaJS } from '../../core/kafka.ts';
import type { Admin } from '../../core/kafka.ts';
import { tokenFingerprint } from '../../core/http/bearer-auth.ts';
import { createLogger } from '../../core/logger.ts';
import type { Logger } from '../../core/logger.ts';
import { buildAdminApi } from '../../replicator/admin-api.ts';
import type { ActionBody, HealthBody } from '../../replicator/admin-api.ts';
import { Flow } from '../../replicator/flow.ts';
import type { FlowStatus, PartitionStatus } from '../../replicator/flow.ts';
import { readOrigin } from '../../replicator/provenance.ts';
import { Replicator } from '../../replicator/replicator.ts';
import type { ReplicatorStatus } from '../../replicator/replicator.ts';
import { collect } from '../support/kafka.ts';
import { uniqueName } from '../support/names.ts';
import { useClients } from '../support/regions.ts';
import { testReplication } from '../support/replication.ts';
import type { TestReplication } from '../support/replication.ts';

const log = createLogger({ name: 'test-admin-api', level: process.env['TEST_LOG_LEVEL'] ?? 'warn' });
const FLOW = 'us-east->eu-west';
/** How long a paused flow must copy nothing. */
const QUIET_MS = 4_000;

/** A logger whose JSON lines the test can read. */
function captureLog(): { log: Logger; lines: () => Array<Record<string, unknown>> } {
  const raw: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      raw.push(chunk.toString('utf8'));
      callback();
    },
  });
  return { log: createLogger({ name: 'test-admin-api', level: 'info', destination }), lines: () => raw.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>) };
}

interface ErrorBody {
  error: { code: string; message: string; details: Record<string, unknown> };
}

describe('replicator admin API', () => {
  const clients = useClients();
  const replicators: Replicator[] = [];
  const apis: FastifyInstance[] = [];
  afterEach(async () => {
    await Promise.all(apis.splice(0).map((a) => a.close()));
    await Promise.all(replicators.splice(0).map((r) => r.stop()));
  });

  /** A topic on us-east with `records` records, a Replicator into eu-west from us-east, and its admin API. */
  async function setup(o: { partitions?: number; records?: number; apiLog?: Logger; maxBatchRecords?: number } = {}): Promise<{ t: TestReplication; topic: string; copy: string; api: FastifyInstance; bearer: Record<string, string> }> {
    const t = testReplication(clients.runtime, o.maxBatchRecords === undefined ? {} : { maxBatchRecords: o.maxBatchRecords });
    const topic = `${t.prefix}-docs`;
    const admin = await clients.admin('us-east');
    await admin.createTopics({ topics: [{ topic, numPartitions: o.partitions ?? 2, configEntries: [{ name: 'retention.ms', value: '3600000' }] }] });
    if ((o.records ?? 0) > 0) await produce(topic, 0, o.records ?? 0);
    const rep = new Replicator({ deployment: t.deployment, region: 'eu-west', sources: ['us-east'], log });
    replicators.push(rep);
    rep.start();
    const api = buildAdminApi({ replicator: rep, token: t.deployment.admin.token, log: o.apiLog ?? log });
    apis.push(api);
    return { t, topic, copy: `us-east.${topic}`, api, bearer: { authorization: `Bearer ${t.deployment.admin.token}` } };
  }

  async function produce(topic: string, from: number, count: number): Promise<void> {
    const producer = await clients.producer('us-east', { kafkaJS: { acks: -1, idempotent: true } });
    const sent = await producer.send({ topic, messages: Array.from({ length: count }, (_, i) => ({ key: `k${(from + i) % 7}`, value: `v${from + i}` })) });
    expect(sent.every((m) => m.errorCode === 0)).toBe(true);
  }

  async function get<T>(api: FastifyInstance, url: string): Promise<T> {
    const res = await api.inject({ method: 'GET', url });
    expect(res.statusCode, res.body).toBe(200);
    return res.json<T>();
  }

  async function copied(api: FastifyInstance, topic: string): Promise<number> {
    const flow = await get<FlowStatus>(api, `/flows/us-east/eu-west`);
    return flow.partitions.filter((p) => p.topic === topic).reduce((n, p) => n + p.copiedRecords, 0);
  }

  /** Committed end offsets (last stable offsets) of the copy, per partition: they move only when a copy transaction commits. */
  async function committedEnds(admin: Admin, topic: string): Promise<string> {
    const offsets = await admin.fetchTopicOffsets(topic, { isolationLevel: KafkaJS.IsolationLevel.READ_COMMITTED });
    return offsets
      .sort((a, b) => a.partition - b.partition)
      .map((o) => `${o.partition}:${o.offset}`)
      .join(',');
  }

  function expectError(res: LightMyRequestResponse, status: number, code: string): ErrorBody['error'] {
    expect(res.statusCode, res.body).toBe(status);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    const body = res.json<ErrorBody>();
    expect(Object.keys(body)).toEqual(['error']);
    expect(Object.keys(body.error).sort()).toEqual(['code', 'details', 'message']);
    expect(body.error.code).toBe(code);
    expect(res.body).not.toMatch(/\bat .*\.ts:\d+/);
    return body.error;
  }

  it('reports health, full status, one flow and metrics once the flow copies', async () => {
    const { t, topic, api } = await setup({ partitions: 2, records: 40 });
    // A heartbeat-only replicator in us-east (no flows) gives eu-west a freshness figure for us-east.
    const heartbeats = new Replicator({ deployment: t.deployment, region: 'us-east', sources: [], log });
    replicators.push(heartbeats);
    heartbeats.start();

    const starting = await get<HealthBody>(api, '/health');
    expect(starting.region).toBe('eu-west');
    expect(Object.keys(starting.flows)).toEqual([FLOW]);

    await expect.poll(async () => get<HealthBody>(api, '/health'), { timeout: 60_000, interval: 500 }).toEqual({ status: 'ok', region: 'eu-west', flows: { [FLOW]: 'running' } });
    await expect.poll(() => copied(api, topic), { timeout: 60_000, interval: 500 }).toBe(40);

    const status = await get<ReplicatorStatus>(api, '/status');
    expect(status).toMatchObject({ region: 'eu-west', mode: 'exactly-once', naming: 'prefix' });
    expect(status.flows).toHaveLength(1);
    const flow = status.flows[0];
    expect(flow).toMatchObject({ flow: FLOW, source: 'us-east', target: 'eu-west', state: 'running', conflicts: [] });
    expect(flow?.topics).toContain(topic);
    const mine = (flow?.partitions ?? []).filter((p) => p.topic === topic) as Array<PartitionStatus & { checkpointAgeMs?: number }>;
    expect(mine.map((p) => p.partition)).toEqual([0, 1]);
    for (const p of mine) {
      expect(p.targetTopic).toBe(`us-east.${topic}`);
      expect(['idle', 'copying']).toContain(p.state);
      expect(p.lagRecords).toBe(0);
      expect(p.lagMs).toBe(0);
      expect(typeof p.checkpointAgeMs).toBe('number');
      expect(p.checkpointAgeMs).toBeGreaterThanOrEqual(0);
    }
    await expect.poll(async () => (await get<ReplicatorStatus>(api, '/status')).freshnessMs['us-east'], { timeout: 60_000, interval: 500 }).toBeLessThan(30_000);

    const one = await get<FlowStatus>(api, '/flows/us-east/eu-west');
    expect(one).toMatchObject({ flow: FLOW, state: 'running' });

    const metrics = await api.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.statusCode).toBe(200);
    expect(metrics.headers['content-type']).toBe(replicators[0]?.metrics.registry.contentType);
    const records = new RegExp(`^georeplica_replicator_records_total\\{flow="${FLOW}",topic="${topic}"\\} (\\d+)$`, 'm').exec(metrics.body);
    expect(Number(records?.[1])).toBe(40);
    expect(metrics.body).toMatch(new RegExp(`^georeplica_replicator_flow_state\\{flow="${FLOW}",state="running"\\} 1$`, 'm'));
    expect(metrics.body).toMatch(new RegExp(`^georeplica_replicator_flow_state\\{flow="${FLOW}",state="paused"\\} 0$`, 'm'));
  });

  it('pauses and resumes by region and by flow, and a paused flow copies nothing', async () => {
    const audit = captureLog();
    const { t, topic, copy, api, bearer } = await setup({ partitions: 2, records: 10, apiLog: audit.log });
    await expect.poll(() => copied(api, topic), { timeout: 60_000, interval: 500 }).toBe(10);
    const eu = await clients.admin('eu-west');

    for (const [i, scope] of (['/regions/us-east', '/flows/us-east/eu-west'] as const).entries()) {
      const why = `maintenance window ${i}`;
      const paused = await api.inject({ method: 'POST', url: `${scope}/pause`, headers: bearer, payload: { reason: why } });
      expect(paused.statusCode, paused.body).toBe(200);
      expect(paused.json<ActionBody>()).toEqual({ action: 'pause', flows: [{ flow: FLOW, state: 'paused', reason: why }] });
      expect(await get<FlowStatus>(api, '/flows/us-east/eu-west')).toMatchObject({ state: 'paused', reason: why });
      expect(await get<HealthBody>(api, '/health')).toEqual({ status: 'degraded', region: 'eu-west', flows: { [FLOW]: 'paused' } });

      const before = await committedEnds(eu, copy);
      await produce(topic, 10 * (i + 1), 10);
      await new Promise((r) => setTimeout(r, QUIET_MS));
      expect(await committedEnds(eu, copy)).toBe(before);
      expect(await copied(api, topic)).toBe(10 * (i + 1));
      expect((await get<FlowStatus>(api, '/flows/us-east/eu-west')).state).toBe('paused');

      // No body at all is fine too.
      const resumed = await api.inject({ method: 'POST', url: `${scope}/resume`, headers: bearer });
      expect(resumed.statusCode, resumed.body).toBe(200);
      expect(resumed.json<ActionBody>()).toMatchObject({ action: 'resume', flows: [{ flow: FLOW, state: 'running' }] });
      await expect.poll(() => copied(api, topic), { timeout: 30_000, interval: 500 }).toBe(10 * (i + 2));
      expect(await committedEnds(eu, copy)).not.toBe(before);
      expect(await get<HealthBody>(api, '/health')).toEqual({ status: 'ok', region: 'eu-west', flows: { [FLOW]: 'running' } });
    }

    // Every action is in the log with who (token fingerprint, client IP) and why, never the token itself.
    const actions = audit.lines().filter((l) => l['msg'] === 'admin pause' || l['msg'] === 'admin resume');
    expect(actions.map((l) => [l['action'], l['scope'], l['reason']])).toEqual([
      ['pause', { region: 'us-east' }, 'maintenance window 0'],
      ['resume', { region: 'us-east' }, undefined],
      ['pause', { flow: FLOW }, 'maintenance window 1'],
      ['resume', { flow: FLOW }, undefined],
    ]);
    for (const l of actions) {
      expect(l).toMatchObject({ level: 30, component: 'admin-api', region: 'eu-west', flows: [FLOW], actor: { token: tokenFingerprint(t.deployment.admin.token), ip: '127.0.0.1' } });
    }
    expect(JSON.stringify(audit.lines())).not.toContain(t.deployment.admin.token);

    // Every record arrived exactly once, in spite of the pauses.
    const consumer = await clients.consumer('eu-west', { 'isolation.level': 'read_committed', kafkaJS: { groupId: uniqueName('g'), fromBeginning: true } });
    await consumer.subscribe({ topic: copy });
    const got = await collect(consumer, 30, 30_000);
    expect(new Set(got.map((r) => `${readOrigin(r.headers)?.partition}/${readOrigin(r.headers)?.offset}`)).size).toBe(30);
    expect(new Set(got.map((r) => r.value)).size).toBe(30);
  });

  it('stops mid-backlog when paused while copies are in flight and records wait in the queues, then copies the rest exactly once', async () => {
    // Small transactions over a backlog: when the pause lands, a copy is in flight and more
    // records are queued behind it. A copy loop ending on a paused flow once restarted itself
    // synchronously, without end (a stack overflow V8 only printed); and the flow's one
    // transactional producer can hold one transaction at a time. So the test watches how many
    // copies (Flow#copyOnce) overlap, across the pause and the resume.
    const proto = Flow.prototype as unknown as Record<string, (...args: unknown[]) => unknown>;
    const copyOnce = proto['copyOnce'] as (...args: unknown[]) => Promise<unknown>;
    expect(typeof copyOnce).toBe('function');
    let depth = 0;
    let deepest = 0;
    proto['copyOnce'] = function (this: unknown, ...args: unknown[]) {
      deepest = Math.max(deepest, ++depth);
      return copyOnce.apply(this, args).finally(() => depth--);
    };
    onTestFinished(() => {
      proto['copyOnce'] = copyOnce;
    });
    const total = 6_000;
    const { topic, copy, api, bearer } = await setup({ partitions: 2, records: total, maxBatchRecords: 20 });
    await expect.poll(() => copied(api, topic), { timeout: 60_000, interval: 100 }).toBeGreaterThan(0);
    const paused = await api.inject({ method: 'POST', url: '/flows/us-east/eu-west/pause', headers: bearer, payload: { reason: 'pause mid-backlog' } });
    expect(paused.statusCode, paused.body).toBe(200);
    // The copies in flight finish; then nothing moves.
    await new Promise((r) => setTimeout(r, 1_000));
    const atPause = await copied(api, topic);
    await new Promise((r) => setTimeout(r, QUIET_MS));
    expect(await copied(api, topic)).toBe(atPause);
    expect(atPause).toBeLessThan(total);
    const status = await get<FlowStatus>(api, '/flows/us-east/eu-west');
    expect(status.state).toBe('paused');
    expect(status.partitions.filter((p) => p.topic === topic).map((p) => p.state)).not.toContain('error');
    expect(deepest).toBe(1);

    const resumed = await api.inject({ method: 'POST', url: '/flows/us-east/eu-west/resume', headers: bearer });
    expect(resumed.statusCode, resumed.body).toBe(200);
    await expect.poll(() => copied(api, topic), { timeout: 120_000, interval: 500 }).toBe(total);
    // Read back: every source record once (a duplicate among the first `total` would shrink the set).
    const consumer = await clients.consumer('eu-west', { 'isolation.level': 'read_committed', kafkaJS: { groupId: uniqueName('g'), fromBeginning: true } });
    await consumer.subscribe({ topic: copy });
    const got = await collect(consumer, total, 60_000);
    expect(new Set(got.map((r) => `${readOrigin(r.headers)?.partition}/${readOrigin(r.headers)?.offset}`)).size).toBe(total);
  });

  it('needs the bearer token for state changes: 401 without, 403 when wrong', async () => {
    const audit = captureLog();
    const { api, t } = await setup({ apiLog: audit.log });
    for (const url of ['/regions/us-east/pause', '/flows/us-east/eu-west/pause', '/regions/us-east/resume', '/flows/us-east/eu-west/resume']) {
      const none = await api.inject({ method: 'POST', url, payload: { reason: 'no token' } });
      expectError(none, 401, 'UNAUTHENTICATED');
      expect(none.headers['www-authenticate']).toMatch(/^Bearer\b/);

      const basic = await api.inject({ method: 'POST', url, headers: { authorization: 'Basic dXNlcjpwYXNz' } });
      expectError(basic, 401, 'UNAUTHENTICATED');
      expect(basic.headers['www-authenticate']).toMatch(/^Bearer\b/);

      const wrong = await api.inject({ method: 'POST', url, headers: { authorization: `Bearer ${t.deployment.admin.token}x` }, payload: { reason: 'wrong token' } });
      expectError(wrong, 403, 'FORBIDDEN');
      expect(wrong.headers['www-authenticate']).toBeUndefined();
    }
    // Authentication comes first: an unauthenticated caller learns nothing about regions or bodies.
    expectError(await api.inject({ method: 'POST', url: '/regions/mars/pause', payload: { bogus: 1 } }), 401, 'UNAUTHENTICATED');
    expect((await get<FlowStatus>(api, '/flows/us-east/eu-west')).state).not.toBe('paused');
    // Refusals are logged (with the caller's IP) as warnings; nothing was done.
    const refused = audit.lines().filter((l) => l['level'] === 40);
    expect(refused).toHaveLength(13);
    expect(refused.every((l) => l['ip'] === '127.0.0.1')).toBe(true);
    expect(audit.lines().some((l) => typeof l['msg'] === 'string' && l['msg'].startsWith('admin pause'))).toBe(false);
    // Reads need no token.
    expect((await api.inject({ method: 'GET', url: '/health' })).statusCode).toBe(200);
  });

  it('answers unknown regions, flows, routes and body keys with catalogue errors', async () => {
    const { api, bearer } = await setup();

    const region = expectError(await api.inject({ method: 'POST', url: '/regions/mars/pause', headers: bearer, payload: { reason: 'x' } }), 400, 'UNKNOWN_REGION');
    expect(region.message).toContain('mars');
    for (const r of ['us-east', 'eu-west', 'ap-southeast']) expect(region.message).toContain(r);
    expect(region.details).toEqual({ region: 'mars', validRegions: ['us-east', 'eu-west', 'ap-southeast'] });
    expectError(await api.inject({ method: 'GET', url: '/flows/mars/eu-west' }), 400, 'UNKNOWN_REGION');

    const flow = expectError(await api.inject({ method: 'GET', url: '/flows/ap-southeast/eu-west' }), 404, 'NOT_FOUND');
    expect(flow.details).toEqual({ source: 'ap-southeast', target: 'eu-west', flows: [FLOW] });
    expectError(await api.inject({ method: 'POST', url: '/flows/ap-southeast/eu-west/pause', headers: bearer }), 404, 'NOT_FOUND');
    expectError(await api.inject({ method: 'GET', url: '/no/such/route' }), 404, 'NOT_FOUND');

    const unknownKey = expectError(await api.inject({ method: 'POST', url: '/flows/us-east/eu-west/pause', headers: bearer, payload: { reason: 'x', force: true } }), 400, 'INVALID_ARGUMENT');
    expect(unknownKey.message).toContain('"force"');
    expect(unknownKey.details).toEqual({ location: 'body', field: 'force' });
    const badType = expectError(await api.inject({ method: 'POST', url: '/regions/us-east/pause', headers: bearer, payload: { reason: 42 } }), 400, 'INVALID_ARGUMENT');
    expect(badType.details).toMatchObject({ location: 'body', field: 'reason' });
    expectError(await api.inject({ method: 'POST', url: '/regions/us-east/pause', headers: { ...bearer, 'content-type': 'application/json' }, payload: '{"reason":' }), 400, 'INVALID_ARGUMENT');
    // None of the refused calls paused anything.
    expect((await get<FlowStatus>(api, '/flows/us-east/eu-west')).state).not.toBe('paused');
  });

  it('translates a group’s offsets over HTTP, and refuses a query without a group', async () => {
    const { api } = await setup();
    const res = await api.inject({ method: 'GET', url: '/translate?group=nobody-here-at-all&from=us-east' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ group: 'nobody-here-at-all', from: 'us-east', to: 'eu-west', partitions: [] });
    expectError(await api.inject({ method: 'GET', url: '/translate?from=us-east' }), 400, 'INVALID_ARGUMENT');
    expectError(await api.inject({ method: 'GET', url: '/translate?group=g&from=mars' }), 400, 'UNKNOWN_REGION');
  });
});
