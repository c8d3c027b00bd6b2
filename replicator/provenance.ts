/**
 * Provenance of every copy: where it was read (region, topic, partition, offset) and the hops
 * it took. It makes copies auditable, lets offset translation find a source offset on the
 * target exactly, and stops loops under the identity naming policy.
 *
 * One header, `georeplica.origin: <hops>/<topic>/<partition>/<offset>`, for example
 * `us-east>eu-west/documents/3/12345`: the hop list (origin first, the copy's region last), then
 * the topic, partition and offset it was read from. Region names have
 * no `/` or `>` and topic names no `/`, so the value parses back exactly. Not five headers, as
 * before 2026-12-06: librdkafka serialises, compresses and the broker stores every header of
 * every record, and five cost about 10 µs of CPU per record in the producer alone against
 * 2 µs for one (docs/BENCHMARKS.md). Copies written with the five headers
 * (`georeplica.origin.region`, `.topic`, `.partition`, `.offset`, `georeplica.hops`) are still read.
 */
export const H_ORIGIN = 'georeplica.origin';
const LEGACY_REGION = 'georeplica.origin.region';
const LEGACY_TOPIC = 'georeplica.origin.topic';
const LEGACY_PARTITION = 'georeplica.origin.partition';
const LEGACY_OFFSET = 'georeplica.origin.offset';
const LEGACY_HOPS = 'georeplica.hops';
const PROVENANCE_KEYS: ReadonlySet<string> = new Set([H_ORIGIN, LEGACY_REGION, LEGACY_TOPIC, LEGACY_PARTITION, LEGACY_OFFSET, LEGACY_HOPS]);

/** Headers as the compat clients give them: one key each, several values as an array. */
export type Headers = Record<string, Buffer | string | (Buffer | string)[] | undefined>;
/** Headers as the binding reads and writes them: one single-key object per header, in order, duplicates kept. */
export type HeaderList = Array<Record<string, Buffer | string>>;

export interface Origin {
  /** The region the record was read from. */
  region: string;
  topic: string;
  partition: number;
  offset: string;
}

export interface Provenance extends Origin {
  /** Regions the record went through, the origin first and the region holding the copy last. */
  hops: string[];
}

/** The header value for a copy of `origin` that went through `hops`. */
export function formatProvenance(hops: readonly string[], topic: string, partition: number, offset: string | number): string {
  return `${hops.join('>')}/${topic}/${partition}/${offset}`;
}

/** Parses a `georeplica.origin` value; undefined when it is not one. */
export function parseProvenance(value: string): Provenance | undefined {
  const parts = value.split('/');
  if (parts.length !== 4) return undefined;
  const [hopList, topic, partition, offset] = parts as [string, string, string, string];
  const hops = hopList.split('>');
  // The region it was read from: the hop before the region holding the copy.
  const region = hops.length >= 2 ? hops[hops.length - 2] : hops[0];
  if (!region || topic === '' || !/^\d+$/.test(partition) || !/^\d+$/.test(offset)) return undefined;
  return { region, topic, partition: Number(partition), offset, hops };
}

function first(v: Headers[string]): string | undefined {
  if (v === undefined) return undefined;
  const x = Array.isArray(v) ? v[0] : v;
  return x === undefined ? undefined : x.toString();
}

/** The provenance of a record read by a compat client (undefined: not a copy). */
export function readOrigin(headers: Headers | undefined): Provenance | undefined {
  if (!headers) return undefined;
  const compact = first(headers[H_ORIGIN]);
  if (compact !== undefined) return parseProvenance(compact);
  const region = first(headers[LEGACY_REGION]);
  const topic = first(headers[LEGACY_TOPIC]);
  const partition = first(headers[LEGACY_PARTITION]);
  const offset = first(headers[LEGACY_OFFSET]);
  if (region === undefined || topic === undefined || partition === undefined || offset === undefined) return undefined;
  return { region, topic, partition: Number(partition), offset, hops: (first(headers[LEGACY_HOPS]) ?? region).split('>') };
}

/** True when the record arrived by replication (it carries an origin). */
export function isReplicated(headers: Headers | undefined): boolean {
  return headers !== undefined && (headers[H_ORIGIN] !== undefined || headers[LEGACY_REGION] !== undefined);
}

function keyOf(h: Record<string, Buffer | string>): string | undefined {
  for (const k in h) return k;
  return undefined;
}

/** isReplicated() for the binding's header lists. */
export function listIsReplicated(headers: HeaderList | undefined): boolean {
  if (!headers) return false;
  for (const h of headers) {
    const k = keyOf(h);
    if (k === H_ORIGIN || k === LEGACY_REGION) return true;
  }
  return false;
}

/**
 * The provenance header of one source partition's copies, its fixed part built once: only the
 * offset differs from record to record. A record's own headers are kept, except provenance
 * headers, which are replaced; a record that was already a copy extends its hop list.
 */
export class ProvenanceStamp {
  private readonly prefix: string;
  private readonly origin: Omit<Origin, 'offset'>;
  private readonly targetRegion: string;

  constructor(origin: Omit<Origin, 'offset'>, targetRegion: string) {
    this.origin = origin;
    this.targetRegion = targetRegion;
    this.prefix = `${origin.region}>${targetRegion}/${origin.topic}/${origin.partition}/`;
  }

  /** The copy's headers: the record's own (without provenance), then `georeplica.origin`. */
  headers(offset: number, own: HeaderList | undefined): HeaderList {
    if (!own || own.length === 0) return [{ [H_ORIGIN]: this.prefix + offset }];
    const out: HeaderList = [];
    let earlier: string[] | undefined;
    for (const h of own) {
      const k = keyOf(h);
      if (k === undefined || !PROVENANCE_KEYS.has(k)) {
        out.push(h);
      } else if (earlier === undefined && (k === H_ORIGIN || k === LEGACY_HOPS)) {
        const v = String(h[k]);
        earlier = k === H_ORIGIN ? parseProvenance(v)?.hops : v.split('>');
      }
    }
    const value = earlier === undefined ? this.prefix + offset : formatProvenance([...earlier, this.targetRegion], this.origin.topic, this.origin.partition, offset);
    out.push({ [H_ORIGIN]: value });
    return out;
  }
}
