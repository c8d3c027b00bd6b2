/**
 * What the drain bucket holds per region (key `drain.<region>`): the operator's intent, with
 * who asked and why. A missing key means the region was never drained.
 */
import { GeoError } from '../../core/errors.ts';

export interface DrainRecord {
  region: string;
  /** drained: no new requests; active: undrained (traffic returns through the catch-up gate). */
  state: 'drained' | 'active';
  reason: string | null;
  /** Who asked: the operator named by the caller, and the admin token's fingerprint. */
  by: string;
  at: string;
}

export function drainKey(region: string): string {
  return `drain.${region}`;
}

export function regionOfKey(key: string): string | undefined {
  return key.startsWith('drain.') ? key.slice('drain.'.length) : undefined;
}

export function encodeDrainRecord(r: DrainRecord): string {
  return JSON.stringify(r);
}

/** Parses a bucket value; a value some other writer left there is refused rather than half-trusted. */
export function decodeDrainRecord(text: string): DrainRecord {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (cause) {
    throw new GeoError('INVALID_ARGUMENT', 'A drain record is not JSON.', { cause });
  }
  const o = v as Partial<DrainRecord> | null;
  if (o === null || typeof o !== 'object' || typeof o.region !== 'string' || (o.state !== 'drained' && o.state !== 'active') || typeof o.by !== 'string' || typeof o.at !== 'string' || !(o.reason === null || typeof o.reason === 'string')) {
    throw new GeoError('INVALID_ARGUMENT', 'A drain record does not have the expected shape { region, state, reason, by, at }.', { details: { value: text.slice(0, 200) } });
  }
  return { region: o.region, state: o.state, reason: o.reason, by: o.by, at: o.at };
}
