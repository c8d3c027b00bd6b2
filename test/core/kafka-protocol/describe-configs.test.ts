import { afterEach, describe, expect, it } from 'vitest';
import { GeoError } from '../../../core/errors.ts';
import { Reader, Writer } from '../../../core/kafka-protocol/codec.ts';
import { decodeDescribeConfigsResponse, describeTopicConfigs, encodeDescribeConfigsRequest } from '../../../core/kafka-protocol/describe-configs.ts';
import type { FakeHandler } from './fake-broker.ts';
import { apiVersionsBody, startFakeBroker } from './fake-broker.ts';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface FakeConfig {
  name: string;
  value: string | null;
  readOnly?: boolean;
  source: number;
  sensitive?: boolean;
}

interface FakeResult {
  topic: string;
  errorCode?: number;
  errorMessage?: string | null;
  configs?: FakeConfig[];
}

/** A DescribeConfigs response body as a v1..v3 broker writes it. */
function responseBody(version: number, results: FakeResult[]): Buffer {
  return new Writer()
    .int32(0)
    .array(results, (w, r) => {
      w.int16(r.errorCode ?? 0)
        .nullableString(r.errorMessage ?? null)
        .int8(2)
        .string(r.topic)
        .array(r.configs ?? [], (x, c) => {
          x.string(c.name)
            .nullableString(c.value)
            .boolean(c.readOnly ?? false)
            .int8(c.source)
            .boolean(c.sensitive ?? false)
            .array([{ name: `log.${c.name}`, value: c.value, source: c.source }], (y, s) => y.string(s.name).nullableString(s.value).int8(s.source));
          if (version >= 3) x.int8(2).nullableString(null);
        });
    })
    .toBuffer();
}

/** Decodes the resources of a DescribeConfigs v1..v3 request as the fake broker saw them. */
function parseRequest(body: Buffer, version: number): { resources: Array<{ type: number; name: string; keys: string[] | null }>; includeSynonyms: boolean; includeDocumentation?: boolean } {
  const r = new Reader(body);
  const resources = r.array((x) => ({ type: x.int8(), name: x.string(), keys: x.nullableArray((y) => y.string()) }));
  const includeSynonyms = r.boolean();
  const out = version >= 3 ? { resources, includeSynonyms, includeDocumentation: r.boolean() } : { resources, includeSynonyms };
  expect(r.remaining).toBe(0);
  return out;
}

/** A fake broker that negotiates through ApiVersions and answers DescribeConfigs from `topics`. */
async function fakeKafka(topics: Record<string, FakeConfig[]>, describeConfigsRange: [number, number] = [1, 4]): Promise<{ address: string; describeVersions: number[] }> {
  const describeVersions: number[] = [];
  const handler: FakeHandler = (req) => {
    if (req.apiKey === 18) return apiVersionsBody([[18, 0, 4], [32, ...describeConfigsRange]]);
    describeVersions.push(req.apiVersion);
    const { resources } = parseRequest(req.body, req.apiVersion);
    return responseBody(
      req.apiVersion,
      resources.map((res) => {
        const configs = topics[res.name];
        if (!configs) return { topic: res.name, errorCode: 3, errorMessage: 'This server does not host this topic-partition.' };
        return { topic: res.name, configs: res.keys ? configs.filter((c) => res.keys?.includes(c.name)) : configs };
      }),
    );
  };
  const b = await startFakeBroker(handler);
  cleanups.push(() => b.close());
  return { address: b.address, describeVersions };
}

const ORDERS: FakeConfig[] = [
  { name: 'cleanup.policy', value: 'compact', source: 1 },
  { name: 'retention.ms', value: '123456', source: 1 },
  { name: 'segment.bytes', value: '67108864', source: 4 },
  { name: 'max.message.bytes', value: '1048588', source: 5 },
  { name: 'sasl.secret', value: null, source: 5, sensitive: true, readOnly: true },
];

describe('DescribeConfigs messages', () => {
  it('encodes v1/v2 as resources + IncludeSynonyms, and v3 with IncludeDocumentation', () => {
    const resources = [
      { resourceType: 2, resourceName: 'orders', configNames: ['retention.ms'] },
      { resourceType: 2, resourceName: 'users', configNames: null },
    ];
    const v1 = encodeDescribeConfigsRequest(1, resources);
    expect([...v1]).toEqual([
      ...[0, 0, 0, 2],
      ...[2, 0, 6, ...Buffer.from('orders'), 0, 0, 0, 1, 0, 12, ...Buffer.from('retention.ms')],
      ...[2, 0, 5, ...Buffer.from('users'), 0xff, 0xff, 0xff, 0xff],
      0,
    ]);
    expect([...encodeDescribeConfigsRequest(2, resources)]).toEqual([...v1]);
    expect([...encodeDescribeConfigsRequest(3, resources, { includeSynonyms: true })]).toEqual([...v1.subarray(0, -1), 1, 0]);
    expect(parseRequest(encodeDescribeConfigsRequest(3, resources), 3)).toEqual({
      resources: [
        { type: 2, name: 'orders', keys: ['retention.ms'] },
        { type: 2, name: 'users', keys: null },
      ],
      includeSynonyms: false,
      includeDocumentation: false,
    });
  });

  it.each([1, 2, 3])('decodes a v%i response, synonyms and (v3) type and documentation included', (version) => {
    const body = responseBody(version, [{ topic: 'orders', configs: ORDERS.slice(0, 2) }, { topic: 'gone', errorCode: 3, errorMessage: 'nope' }]);
    const r = new Reader(body);
    const { results } = decodeDescribeConfigsResponse(r, version);
    expect(r.remaining).toBe(0);
    expect(results[0]).toEqual({
      errorCode: 0,
      errorMessage: null,
      resourceType: 2,
      resourceName: 'orders',
      configs: [
        { name: 'cleanup.policy', value: 'compact', readOnly: false, source: 1, sensitive: false, synonyms: [{ name: 'log.cleanup.policy', value: 'compact', source: 1 }], configType: version >= 3 ? 2 : 0, documentation: null },
        { name: 'retention.ms', value: '123456', readOnly: false, source: 1, sensitive: false, synonyms: [{ name: 'log.retention.ms', value: '123456', source: 1 }], configType: version >= 3 ? 2 : 0, documentation: null },
      ],
    });
    expect(results[1]).toMatchObject({ errorCode: 3, errorMessage: 'nope', resourceName: 'gone', configs: [] });
  });

  it('refuses versions it does not implement', () => {
    expect(() => encodeDescribeConfigsRequest(0, [])).toThrow(/DescribeConfigs v0 is not implemented/);
    expect(() => decodeDescribeConfigsResponse(new Reader(Buffer.alloc(8)), 4)).toThrow(/DescribeConfigs v4 is not implemented/);
  });
});

describe('describeTopicConfigs against a fake broker', () => {
  it('negotiates v3 and maps each config, isDefault meaning source DEFAULT_CONFIG', async () => {
    const k = await fakeKafka({ orders: ORDERS });
    const got = await describeTopicConfigs(k.address, ['orders']);
    expect(k.describeVersions).toEqual([3]);
    const orders = got.get('orders');
    expect(orders?.get('cleanup.policy')).toEqual({ value: 'compact', isDefault: false, readOnly: false, sensitive: false, source: 'TOPIC_CONFIG' });
    expect(orders?.get('segment.bytes')).toMatchObject({ isDefault: false, source: 'STATIC_BROKER_CONFIG' });
    expect(orders?.get('max.message.bytes')).toMatchObject({ value: '1048588', isDefault: true, source: 'DEFAULT_CONFIG' });
    expect(orders?.get('sasl.secret')).toEqual({ value: null, isDefault: true, readOnly: true, sensitive: true, source: 'DEFAULT_CONFIG' });
  });

  it('uses the highest version a broker accepts below v3', async () => {
    const k = await fakeKafka({ orders: ORDERS }, [0, 2]);
    expect((await describeTopicConfigs(k.address, ['orders'])).get('orders')?.size).toBe(ORDERS.length);
    expect(k.describeVersions).toEqual([2]);
  });

  it('fails with KAFKA_OPERATION_FAILED when the broker only has versions not implemented here', async () => {
    const k = await fakeKafka({ orders: ORDERS }, [4, 5]);
    await expect(describeTopicConfigs(k.address, ['orders'])).rejects.toMatchObject({ code: 'KAFKA_OPERATION_FAILED', details: { kafkaError: 'UNSUPPORTED_VERSION' } });
  });

  it('asks for the named configs only, and returns no others', async () => {
    const k = await fakeKafka({ orders: ORDERS, users: ORDERS.slice(0, 1) });
    const got = await describeTopicConfigs(k.address, ['orders', 'users', 'orders'], { configNames: ['retention.ms', 'cleanup.policy', 'no.such.config'] });
    expect([...got.keys()]).toEqual(['orders', 'users']);
    expect([...(got.get('orders')?.keys() ?? [])].sort()).toEqual(['cleanup.policy', 'retention.ms']);
    expect([...(got.get('users')?.keys() ?? [])]).toEqual(['cleanup.policy']);
  });

  it('names every topic the broker reports an error for', async () => {
    const k = await fakeKafka({ orders: ORDERS });
    const err = await describeTopicConfigs(k.address, ['orders', 'ghost-1', 'ghost-2']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GeoError);
    expect(err).toMatchObject({ code: 'KAFKA_OPERATION_FAILED', retriable: false, details: { topic: 'ghost-1', topics: ['ghost-1', 'ghost-2'], kafkaCode: 3, kafkaError: 'UNKNOWN_TOPIC_OR_PARTITION' } });
    expect((err as GeoError).message).toMatch(/topic 'ghost-1': UNKNOWN_TOPIC_OR_PARTITION \(3\).*topic 'ghost-2'/);
  });

  it('skips bootstrap brokers that refuse or do not answer, and uses the next', async () => {
    const silent = await startFakeBroker(() => 'hang');
    cleanups.push(() => silent.close());
    const k = await fakeKafka({ orders: ORDERS });
    const viaString = await describeTopicConfigs(`127.0.0.1:1, ${k.address}`, ['orders'], { timeoutMs: 300 });
    expect(viaString.get('orders')?.get('retention.ms')?.value).toBe('123456');
    const t0 = Date.now();
    const viaList = await describeTopicConfigs(['127.0.0.1:1', silent.address, k.address], ['orders'], { timeoutMs: 300 });
    expect(viaList.get('orders')?.get('cleanup.policy')?.value).toBe('compact');
    expect(Date.now() - t0).toBeLessThan(3_000);
    expect(silent.requests.map((r) => r.apiKey)).toEqual([18]);
  });

  it('fails with KAFKA_UNAVAILABLE listing every broker when none answers', async () => {
    const silent = await startFakeBroker(() => 'hang');
    cleanups.push(() => silent.close());
    const err = await describeTopicConfigs(['127.0.0.1:1', silent.address], ['orders'], { timeoutMs: 200 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'KAFKA_UNAVAILABLE', retriable: true, details: { bootstrap: ['127.0.0.1:1', silent.address] } });
    expect((err as GeoError).details['failures']).toHaveLength(2);
  });

  it('does not try the next broker after a broker answered with an error', async () => {
    const k = await fakeKafka({});
    const k2 = await fakeKafka({ orders: ORDERS });
    await expect(describeTopicConfigs([k.address, k2.address], ['orders'])).rejects.toMatchObject({ code: 'KAFKA_OPERATION_FAILED' });
    expect(k2.describeVersions).toEqual([]);
  });

  it('answers an empty topic list without connecting, and rejects bad arguments', async () => {
    expect(await describeTopicConfigs('127.0.0.1:1', [])).toEqual(new Map());
    await expect(describeTopicConfigs('127.0.0.1:9092', [''])).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(describeTopicConfigs([], ['t'])).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(describeTopicConfigs('localhost', ['t'])).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});
