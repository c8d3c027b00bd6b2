/**
 * ApiVersions (api key 18): which versions of each API a broker accepts, so a client can pick
 * the highest version both sides implement. Versions 0 to 2 share an empty request body and
 * differ in the response only by the trailing throttle time (v1+); v3+ is flexible and not
 * spoken here. Kafka answers a too-new ApiVersions request with UNSUPPORTED_VERSION in the v0
 * layout, listing the ApiVersions range it does accept.
 */
import { GeoError } from '../errors.ts';
import type { Reader } from './codec.ts';
import type { BrokerConnection } from './connection.ts';
import { brokerError, KAFKA_ERROR } from './error-codes.ts';

export const API_KEY = Object.freeze({ API_VERSIONS: 18, DESCRIBE_CONFIGS: 32 });

export interface VersionRange {
  readonly min: number;
  readonly max: number;
}

/** The ApiVersions versions implemented here (non-flexible ones). */
export const API_VERSIONS_VERSIONS: VersionRange = Object.freeze({ min: 0, max: 2 });

export interface ApiVersionsResponse {
  readonly errorCode: number;
  /** Supported version range by api key. */
  readonly apiKeys: ReadonlyMap<number, VersionRange>;
  readonly throttleTimeMs: number;
}

/** Versions 0 to 2 of the request have no fields. */
export function encodeApiVersionsRequest(): Buffer {
  return Buffer.alloc(0);
}

export function decodeApiVersionsResponse(r: Reader, version: number): ApiVersionsResponse {
  const errorCode = r.int16();
  const apiKeys = new Map<number, VersionRange>();
  for (const k of r.array((x) => ({ apiKey: x.int16(), min: x.int16(), max: x.int16() }))) apiKeys.set(k.apiKey, { min: k.min, max: k.max });
  // An UNSUPPORTED_VERSION answer uses the v0 layout whatever version was asked for.
  const throttleTimeMs = version >= 1 && errorCode !== KAFKA_ERROR.UNSUPPORTED_VERSION ? r.int32() : 0;
  return { errorCode, apiKeys, throttleTimeMs };
}

/** The highest version in both ranges, or null when they do not overlap. */
export function pickVersion(broker: VersionRange | undefined, implemented: VersionRange): number | null {
  if (!broker) return null;
  const v = Math.min(broker.max, implemented.max);
  return v >= Math.max(broker.min, implemented.min) ? v : null;
}

/** Asks the broker for its API version ranges, falling back once to a version it says it accepts. */
export async function fetchApiVersions(conn: BrokerConnection, timeoutMs?: number): Promise<ReadonlyMap<number, VersionRange>> {
  let version = API_VERSIONS_VERSIONS.max;
  for (let attempt = 1; ; attempt++) {
    const body = await conn.request(API_KEY.API_VERSIONS, version, encodeApiVersionsRequest(), { timeoutMs, label: `ApiVersions v${version}` });
    const res = decodeApiVersionsResponse(body, version);
    if (res.errorCode === KAFKA_ERROR.NONE) return res.apiKeys;
    const fallback = pickVersion(res.apiKeys.get(API_KEY.API_VERSIONS), API_VERSIONS_VERSIONS);
    if (res.errorCode === KAFKA_ERROR.UNSUPPORTED_VERSION && attempt === 1 && fallback !== null && fallback !== version) {
      version = fallback;
      continue;
    }
    throw brokerError(res.errorCode, `ApiVersions v${version} to Kafka broker ${conn.broker}`, { details: { broker: conn.broker } });
  }
}

/** The version of `apiKey` to use with this broker; KAFKA_OPERATION_FAILED when there is none in common. */
export function negotiateVersion(apiVersions: ReadonlyMap<number, VersionRange>, apiKey: number, implemented: VersionRange, what: string, broker: string): number {
  const brokerRange = apiVersions.get(apiKey);
  const v = pickVersion(brokerRange, implemented);
  if (v !== null) return v;
  const offered = brokerRange ? `v${brokerRange.min}..v${brokerRange.max}` : 'no version';
  throw new GeoError('KAFKA_OPERATION_FAILED', `Kafka broker ${broker} accepts ${offered} of ${what}, this client implements v${implemented.min}..v${implemented.max}`, {
    details: { broker, apiKey, brokerVersions: brokerRange ?? null, clientVersions: implemented, kafkaCode: KAFKA_ERROR.UNSUPPORTED_VERSION, kafkaError: 'UNSUPPORTED_VERSION' },
  });
}
