/**
 * Provenance headers added to every copy: where it was read (region, topic, partition, offset)
 * and the hops it took. They make copies auditable, let offset translation find a source
 * offset on the target exactly, and stop loops under the identity naming policy.
 */
export const H_ORIGIN_REGION = 'georeplica.origin.region';
export const H_ORIGIN_TOPIC = 'georeplica.origin.topic';
export const H_ORIGIN_PARTITION = 'georeplica.origin.partition';
export const H_ORIGIN_OFFSET = 'georeplica.origin.offset';
export const H_HOPS = 'georeplica.hops';

export type Headers = Record<string, Buffer | string | (Buffer | string)[] | undefined>;

export interface Origin {
  region: string;
  topic: string;
  partition: number;
  offset: string;
}

function first(v: Headers[string]): string | undefined {
  if (v === undefined) return undefined;
  const x = Array.isArray(v) ? v[0] : v;
  return x === undefined ? undefined : x.toString();
}

/** True when the record arrived by replication (it carries an origin). */
export function isReplicated(headers: Headers | undefined): boolean {
  return headers !== undefined && first(headers[H_ORIGIN_REGION]) !== undefined;
}

/** The source record's own headers, plus the provenance of this copy. */
export function withProvenance(headers: Headers | undefined, origin: Origin, targetRegion: string): Headers {
  const out: Headers = { ...(headers ?? {}) };
  const previousHops = first(out[H_HOPS]);
  out[H_ORIGIN_REGION] = origin.region;
  out[H_ORIGIN_TOPIC] = origin.topic;
  out[H_ORIGIN_PARTITION] = String(origin.partition);
  out[H_ORIGIN_OFFSET] = origin.offset;
  out[H_HOPS] = `${previousHops ?? origin.region}>${targetRegion}`;
  return out;
}

export function readOrigin(headers: Headers | undefined): Origin | undefined {
  if (!headers) return undefined;
  const region = first(headers[H_ORIGIN_REGION]);
  const topic = first(headers[H_ORIGIN_TOPIC]);
  const partition = first(headers[H_ORIGIN_PARTITION]);
  const offset = first(headers[H_ORIGIN_OFFSET]);
  if (region === undefined || topic === undefined || partition === undefined || offset === undefined) return undefined;
  return { region, topic, partition: Number(partition), offset };
}
