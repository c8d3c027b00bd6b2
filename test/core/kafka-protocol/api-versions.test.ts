import { afterEach, describe, expect, it } from 'vitest';
import { API_KEY, decodeApiVersionsResponse, fetchApiVersions, negotiateVersion, pickVersion } from '../../../core/kafka-protocol/api-versions.ts';
import { Reader, Writer } from '../../../core/kafka-protocol/codec.ts';
import { BrokerConnection } from '../../../core/kafka-protocol/connection.ts';
import { apiVersionsBody, startFakeBroker } from './fake-broker.ts';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

type Range = [apiKey: number, min: number, max: number];

/** ErrorCode and ApiKeys: the v0 layout; v1+ appends the throttle time. */
function v0Body(errorCode: number, ranges: Range[]): Writer {
  return new Writer().int16(errorCode).array(ranges, (w, [k, min, max]) => w.int16(k).int16(min).int16(max));
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}

describe('kafka protocol ApiVersions', () => {
  it('decodes v0 (no throttle time) and v1+ (throttle time) responses', () => {
    const v0 = v0Body(0, [[18, 0, 4]]).toBuffer();
    expect(decodeApiVersionsResponse(new Reader(v0), 0)).toEqual({ errorCode: 0, apiKeys: new Map([[18, { min: 0, max: 4 }]]), throttleTimeMs: 0 });
    const v2 = v0Body(0, [
      [32, 1, 4],
      [18, 0, 4],
    ])
      .int32(7)
      .toBuffer();
    const res = decodeApiVersionsResponse(new Reader(v2), 2);
    expect(res.apiKeys.get(32)).toEqual({ min: 1, max: 4 });
    expect(res.throttleTimeMs).toBe(7);
  });

  it('decodes an UNSUPPORTED_VERSION answer in the v0 layout whatever version was asked', () => {
    const body = v0Body(35, [[18, 3, 4]]).toBuffer();
    const r = new Reader(body);
    expect(decodeApiVersionsResponse(r, 2)).toMatchObject({ errorCode: 35, apiKeys: new Map([[18, { min: 3, max: 4 }]]) });
    expect(r.remaining).toBe(0);
  });

  it('picks the highest version both sides implement', () => {
    expect(pickVersion({ min: 1, max: 4 }, { min: 1, max: 3 })).toBe(3);
    expect(pickVersion({ min: 0, max: 2 }, { min: 1, max: 3 })).toBe(2);
    expect(pickVersion({ min: 4, max: 4 }, { min: 1, max: 3 })).toBeNull();
    expect(pickVersion(undefined, { min: 1, max: 3 })).toBeNull();
  });

  it('explains a missing common version as KAFKA_OPERATION_FAILED (UNSUPPORTED_VERSION)', () => {
    const apis = new Map([[32, { min: 4, max: 5 }]]);
    expect(thrown(() => negotiateVersion(apis, 32, { min: 1, max: 3 }, 'DescribeConfigs', 'b:1'))).toMatchObject({
      code: 'KAFKA_OPERATION_FAILED',
      retriable: false,
      details: { kafkaError: 'UNSUPPORTED_VERSION', brokerVersions: { min: 4, max: 5 } },
    });
    expect(() => negotiateVersion(new Map(), 32, { min: 1, max: 3 }, 'DescribeConfigs', 'b:1')).toThrow(/accepts no version of DescribeConfigs/);
  });

  it('asks with v2 and falls back once to the version a broker says it accepts', async () => {
    const b = await startFakeBroker((req) =>
      req.apiVersion === 2
        ? v0Body(35, [[18, 0, 1]]).toBuffer()
        : apiVersionsBody([
            [18, 0, 1],
            [32, 1, 4],
          ]),
    );
    cleanups.push(() => b.close());
    const c = await BrokerConnection.connect(b.address);
    cleanups.push(() => c.close());
    const apis = await fetchApiVersions(c);
    expect(apis.get(API_KEY.DESCRIBE_CONFIGS)).toEqual({ min: 1, max: 4 });
    expect(b.requests.map((r) => [r.apiKey, r.apiVersion, r.body.length])).toEqual([
      [18, 2, 0],
      [18, 1, 0],
    ]);
  });
});
