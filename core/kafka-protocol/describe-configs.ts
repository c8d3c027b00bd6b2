/**
 * DescribeConfigs (api key 32) for topics: what the replicator needs to copy a topic's configs
 * to its target cluster and to spot config conflicts, which the librdkafka-based client does
 * not expose.
 *
 * Versions 1 to 3 are implemented (non-flexible). Kafka 4 removed v0, and v4 is the flexible
 * encoding of v3. v1 adds ConfigSource and synonyms to v0 (dropping IsDefault, which is derived
 * from the source here, as Kafka's own admin client does), v2 is identical to v1, v3 adds
 * IncludeDocumentation to the request and ConfigType and Documentation to each config.
 */
import { GeoError } from '../errors.ts';
import { formatBrokerAddress, parseBootstrap } from './broker-address.ts';
import type { Reader } from './codec.ts';
import { Writer } from './codec.ts';
import { API_KEY, fetchApiVersions, negotiateVersion } from './api-versions.ts';
import type { VersionRange } from './api-versions.ts';
import { BrokerConnection, DEFAULT_CLIENT_ID, DEFAULT_TIMEOUT_MS } from './connection.ts';
import { KAFKA_ERROR, kafkaErrorName } from './error-codes.ts';

export const DESCRIBE_CONFIGS_VERSIONS: VersionRange = Object.freeze({ min: 1, max: 3 });

/** ConfigResource types of the protocol; only TOPIC is used here. */
export const RESOURCE_TYPE = Object.freeze({ TOPIC: 2, BROKER: 4 });

/** Where a config's value comes from (the response's ConfigSource). */
export const CONFIG_SOURCES = [
  'UNKNOWN',
  'TOPIC_CONFIG',
  'DYNAMIC_BROKER_CONFIG',
  'DYNAMIC_DEFAULT_BROKER_CONFIG',
  'STATIC_BROKER_CONFIG',
  'DEFAULT_CONFIG',
  'DYNAMIC_BROKER_LOGGER_CONFIG',
  'CLIENT_METRICS_CONFIG',
  'GROUP_CONFIG',
] as const;
export type ConfigSource = (typeof CONFIG_SOURCES)[number];

export function configSourceName(id: number): ConfigSource {
  return CONFIG_SOURCES[id] ?? 'UNKNOWN';
}

export interface TopicConfigEntry {
  /** Null when the broker withholds it (sensitive configs) or it has no value. */
  value: string | null;
  /** True when the value is Kafka's built-in default (source DEFAULT_CONFIG), as in Kafka's admin client. */
  isDefault: boolean;
  readOnly: boolean;
  sensitive: boolean;
  /**
   * Where the value comes from: TOPIC_CONFIG for an override set on the topic itself, the
   * broker sources (STATIC_BROKER_CONFIG, ...) for a value the topic inherits from its
   * broker's settings, DEFAULT_CONFIG for Kafka's default.
   */
  source: ConfigSource;
}

/** Config name to entry, per topic. */
export type TopicConfigs = Map<string, Map<string, TopicConfigEntry>>;

export interface DescribeTopicConfigsOptions {
  /** Only these configs (all when omitted); names the broker does not know are left out of the answer. */
  configNames?: string[];
  /** Bound on connecting to each broker and on each request to it. Default 10 s. */
  timeoutMs?: number;
  clientId?: string;
}

export interface DescribeConfigsResource {
  resourceType: number;
  resourceName: string;
  /** Null for all configs. */
  configNames: readonly string[] | null;
}

export interface DescribeConfigsResult {
  errorCode: number;
  errorMessage: string | null;
  resourceType: number;
  resourceName: string;
  configs: DescribeConfigsEntry[];
}

export interface DescribeConfigsEntry {
  name: string;
  value: string | null;
  readOnly: boolean;
  /** ConfigSource id (v1+). */
  source: number;
  sensitive: boolean;
  synonyms: { name: string; value: string | null; source: number }[];
  /** ConfigType id (v3+; 0, UNKNOWN, before). */
  configType: number;
  /** v3+ and only when asked for; null otherwise. */
  documentation: string | null;
}

export function encodeDescribeConfigsRequest(version: number, resources: readonly DescribeConfigsResource[], o: { includeSynonyms?: boolean; includeDocumentation?: boolean } = {}): Buffer {
  checkVersion(version);
  const w = new Writer();
  w.array(resources, (x, r) => {
    x.int8(r.resourceType).string(r.resourceName).nullableArray(r.configNames, (y, name) => y.string(name));
  });
  w.boolean(o.includeSynonyms ?? false);
  if (version >= 3) w.boolean(o.includeDocumentation ?? false);
  return w.toBuffer();
}

export function decodeDescribeConfigsResponse(r: Reader, version: number): { throttleTimeMs: number; results: DescribeConfigsResult[] } {
  checkVersion(version);
  const throttleTimeMs = r.int32();
  const results = r.array((x) => ({
    errorCode: x.int16(),
    errorMessage: x.nullableString(),
    resourceType: x.int8(),
    resourceName: x.string(),
    configs: x.array((c) => {
      const name = c.string();
      const value = c.nullableString();
      const readOnly = c.boolean();
      const source = c.int8();
      const sensitive = c.boolean();
      const synonyms = c.array((s) => ({ name: s.string(), value: s.nullableString(), source: s.int8() }));
      const configType = version >= 3 ? c.int8() : 0;
      const documentation = version >= 3 ? c.nullableString() : null;
      return { name, value, readOnly, source, sensitive, synonyms, configType, documentation };
    }),
  }));
  return { throttleTimeMs, results };
}

/**
 * Reads the configs of `topics` from the first broker of `bootstrap` that answers (a broker that
 * cannot be reached or times out is skipped). Throws KAFKA_UNAVAILABLE when none answers, and
 * KAFKA_OPERATION_FAILED naming the topics when the broker reports errors for some of them
 * (UNKNOWN_TOPIC_OR_PARTITION for a topic that does not exist).
 */
export async function describeTopicConfigs(bootstrap: string | string[], topics: string[], options: DescribeTopicConfigsOptions = {}): Promise<TopicConfigs> {
  const brokers = parseBootstrap(bootstrap);
  const wanted = [...new Set(topics)];
  for (const t of wanted) {
    if (typeof t !== 'string' || t === '') throw new GeoError('INVALID_ARGUMENT', `"${String(t)}" is not a topic name`, { details: { topic: t } });
  }
  if (wanted.length === 0) return new Map();
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const failures: { broker: string; message: string }[] = [];
  let lastError: unknown;
  for (const address of brokers) {
    let conn: BrokerConnection | undefined;
    try {
      conn = await BrokerConnection.connect(address, { clientId: options.clientId ?? DEFAULT_CLIENT_ID, connectTimeoutMs: timeoutMs, requestTimeoutMs: timeoutMs });
      return await describeOn(conn, wanted, options.configNames ?? null);
    } catch (err) {
      if (!(err instanceof GeoError) || err.code !== 'KAFKA_UNAVAILABLE') throw err;
      failures.push({ broker: formatBrokerAddress(address), message: err.message });
      lastError = err;
    } finally {
      await conn?.close();
    }
  }
  const tried = failures.map((f) => f.broker).join(', ');
  throw new GeoError('KAFKA_UNAVAILABLE', `no Kafka broker answered DescribeConfigs (tried ${tried}): ${failures.map((f) => f.message).join('; ')}`, {
    cause: lastError,
    details: { bootstrap: brokers.map(formatBrokerAddress), failures },
  });
}

async function describeOn(conn: BrokerConnection, topics: readonly string[], configNames: readonly string[] | null): Promise<TopicConfigs> {
  const version = negotiateVersion(await fetchApiVersions(conn), API_KEY.DESCRIBE_CONFIGS, DESCRIBE_CONFIGS_VERSIONS, 'DescribeConfigs', conn.broker);
  const resources = topics.map((t) => ({ resourceType: RESOURCE_TYPE.TOPIC, resourceName: t, configNames }));
  const body = await conn.request(API_KEY.DESCRIBE_CONFIGS, version, encodeDescribeConfigsRequest(version, resources), { label: `DescribeConfigs v${version}` });
  const { results } = decodeDescribeConfigsResponse(body, version);
  return collect(results, topics, configNames, conn.broker);
}

/** The answer as maps, or one error naming every topic the broker reported an error for. */
function collect(results: readonly DescribeConfigsResult[], topics: readonly string[], configNames: readonly string[] | null, broker: string): TopicConfigs {
  const byTopic = new Map<string, DescribeConfigsResult>();
  for (const r of results) if (r.resourceType === RESOURCE_TYPE.TOPIC) byTopic.set(r.resourceName, r);
  const wantedNames = configNames === null ? null : new Set(configNames);
  const out: TopicConfigs = new Map();
  const errors: { topic: string; kafkaCode: number; kafkaError: string; message: string | null }[] = [];
  for (const topic of topics) {
    const r = byTopic.get(topic);
    if (!r) {
      throw new GeoError('KAFKA_OPERATION_FAILED', `Kafka broker ${broker} left topic '${topic}' out of its DescribeConfigs answer`, { details: { broker, topic, reason: 'protocol' } });
    }
    if (r.errorCode !== KAFKA_ERROR.NONE) {
      errors.push({ topic, kafkaCode: r.errorCode, kafkaError: kafkaErrorName(r.errorCode), message: r.errorMessage });
      continue;
    }
    const configs = new Map<string, TopicConfigEntry>();
    for (const c of r.configs) {
      if (wantedNames && !wantedNames.has(c.name)) continue;
      const source = configSourceName(c.source);
      configs.set(c.name, { value: c.value, isDefault: source === 'DEFAULT_CONFIG', readOnly: c.readOnly, sensitive: c.sensitive, source });
    }
    out.set(topic, configs);
  }
  const [first] = errors;
  if (first) {
    const each = errors.map((e) => `topic '${e.topic}': ${e.kafkaError} (${e.kafkaCode})${e.message ? `, ${e.message}` : ''}`);
    throw new GeoError('KAFKA_OPERATION_FAILED', `DescribeConfigs on Kafka broker ${broker} failed for ${each.join('; ')}`, {
      details: { broker, topic: first.topic, kafkaCode: first.kafkaCode, kafkaError: first.kafkaError, topics: errors.map((e) => e.topic), errors },
    });
  }
  return out;
}

function checkVersion(version: number): void {
  if (!Number.isInteger(version) || version < DESCRIBE_CONFIGS_VERSIONS.min || version > DESCRIBE_CONFIGS_VERSIONS.max) {
    throw new GeoError('INVALID_ARGUMENT', `DescribeConfigs v${version} is not implemented (v${DESCRIBE_CONFIGS_VERSIONS.min}..v${DESCRIBE_CONFIGS_VERSIONS.max})`, { details: { version } });
  }
}
