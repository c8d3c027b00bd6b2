/**
 * Versions of document writes: a hybrid logical clock (physical milliseconds + a logical counter)
 * plus the writing region's index, packed into one positive 63-bit integer.
 *
 * Every indexer applies events to OpenSearch with `version_type=external`, which keeps a document
 * only when the incoming version is strictly greater than the stored one. So the version alone
 * must decide which of two concurrent writes wins, identically in every region and whatever
 * order the events arrive in. Three properties make that so:
 *
 * - versions are unique across regions (the region index is in the low bits),
 * - they are totally ordered as plain integers (no tie is ever left to arrival order),
 * - a region's next write is greater than everything it has observed (`observe`), so a write
 *   made after seeing another region's write always supersedes it.
 *
 * Layout (bit 63, the sign bit of OpenSearch's signed long, is always 0):
 *
 *   63  62                                 19  18            7  6          0
 *   +---+-------------------------------------+----------------+------------+
 *   | 0 | physical: ms since the epoch (44)   | logical (12)   | region (7) |
 *   +---+-------------------------------------+----------------+------------+
 *
 * See docs/EVENTS.md for the reasoning behind each field's width.
 */
import { GeoError } from '../../core/errors.ts';

/**
 * 2025-01-01T00:00:00.000Z. A recent epoch rather than 1970 spends none of the 44 physical bits on
 * years that can never occur in a version: 2^44 ms is about 557 years, so versions last until
 * 2582-06-23T06:20:44.415Z.
 */
export const VERSION_EPOCH_MS = Date.UTC(2025, 0, 1);

export const PHYSICAL_BITS = 44;
export const LOGICAL_BITS = 12;
export const REGION_BITS = 7;

/** Largest physical offset from the epoch, in ms (2^44 - 1, i.e. 2582-06-23T06:20:44.415Z). */
export const MAX_PHYSICAL_OFFSET_MS = 2 ** PHYSICAL_BITS - 1;
/** Largest logical counter: 4096 versions per millisecond per region before borrowing the next ms. */
export const MAX_LOGICAL = 2 ** LOGICAL_BITS - 1;
/** Largest region index; the layout has room for 128 regions (0-127). */
export const MAX_REGION_ID = 2 ** REGION_BITS - 1;
/** Largest version: OpenSearch's external version is a signed 64-bit long, so 2^63 - 1. */
export const MAX_VERSION = (1n << 63n) - 1n;
/** Default of `maxSkewMs`: how far ahead of the local wall clock an observed version may be. */
export const DEFAULT_MAX_SKEW_MS = 60_000;

const LOGICAL_SHIFT = BigInt(REGION_BITS);
const PHYSICAL_SHIFT = BigInt(REGION_BITS + LOGICAL_BITS);
const VERSION_TEXT = /^[1-9][0-9]{0,18}$/;

/** One version, as the integer compared and packed, and as the decimal text carried in events and sent to OpenSearch. */
export interface Version {
  readonly value: bigint;
  readonly decimal: string;
}

/** The fields of a version. `physicalMs` is Unix time in ms (what `Date.now()` returns), not the offset from the epoch. */
export interface VersionParts {
  readonly physicalMs: number;
  readonly logical: number;
  readonly regionId: number;
}

export interface HybridClockOptions {
  /** This writer's region index, 0-127: see `regionIdOf`. */
  regionId: number;
  /** Wall clock in Unix ms; `Date.now` by default. Injected so tests can move time at will. */
  now?: () => number;
  /** `observe` refuses a version whose physical time is more than this many ms ahead of the wall clock. Default 60 000. */
  maxSkewMs?: number;
}

/**
 * The region index used as the version's tie-break: the region's position in the topology's
 * region names sorted by code unit (so every region computes the same index, whatever order
 * its configuration lists the regions in, and whatever the machine's locale).
 */
export function regionIdOf(regionNames: readonly string[], region: string): number {
  // Plain sort() compares UTF-16 code units; localeCompare could order differently per machine.
  const sorted = [...new Set(regionNames)].sort();
  if (sorted.length > MAX_REGION_ID + 1) {
    throw new GeoError('INVALID_ARGUMENT', `The topology has ${sorted.length} regions; versions have room for ${MAX_REGION_ID + 1} region indexes at most.`, {
      details: { regions: sorted.length, max: MAX_REGION_ID + 1 },
    });
  }
  const index = sorted.indexOf(region);
  if (index < 0) {
    throw new GeoError('UNKNOWN_REGION', `Unknown region "${region}". Valid regions: ${sorted.join(', ')}.`, { details: { region, valid: sorted } });
  }
  return index;
}

/** Packs the parts into a version; refuses any part out of its range, and the all-zero value (OpenSearch requires > 0). */
export function encodeVersion(parts: VersionParts): Version {
  const { physicalMs, logical, regionId } = parts;
  const offset = physicalMs - VERSION_EPOCH_MS;
  if (!Number.isSafeInteger(physicalMs) || offset < 0 || offset > MAX_PHYSICAL_OFFSET_MS) {
    throw invalid('physicalMs', physicalMs, `an integer Unix time in ms from ${iso(VERSION_EPOCH_MS)} to ${iso(VERSION_EPOCH_MS + MAX_PHYSICAL_OFFSET_MS)}`);
  }
  if (!Number.isInteger(logical) || logical < 0 || logical > MAX_LOGICAL) throw invalid('logical', logical, `an integer from 0 to ${MAX_LOGICAL}`);
  checkRegionId(regionId);
  const value = (BigInt(offset) << PHYSICAL_SHIFT) | (BigInt(logical) << LOGICAL_SHIFT) | BigInt(regionId);
  if (value === 0n) throw invalid('parts', parts, 'a version > 0: at the epoch millisecond, region 0 must use a logical counter ≥ 1');
  return toVersion(value);
}

/** The parts of a version. */
export function decodeVersion(version: Version | bigint): VersionParts {
  const value = valueOf(version);
  checkRange(value);
  return Object.freeze({
    physicalMs: Number(value >> PHYSICAL_SHIFT) + VERSION_EPOCH_MS,
    logical: Number((value >> LOGICAL_SHIFT) & BigInt(MAX_LOGICAL)),
    regionId: Number(value & BigInt(MAX_REGION_ID)),
  });
}

/** A version from its integer value (1 to 2^63 - 1). */
export function toVersion(value: bigint): Version {
  checkRange(value);
  return Object.freeze({ value, decimal: value.toString() });
}

/** Whether `text` is a version as events carry it: canonical decimal (no sign, no leading zero), 1 to 2^63 - 1. */
export function isVersionText(text: unknown): text is string {
  return typeof text === 'string' && VERSION_TEXT.test(text) && BigInt(text) <= MAX_VERSION;
}

/** A version from its decimal text, as carried in events; INVALID_ARGUMENT when it is not one. */
export function parseVersion(text: string): Version {
  if (!isVersionText(text)) {
    throw new GeoError('INVALID_ARGUMENT', `${JSON.stringify(text)} is not a version: expected the decimal text of an integer from 1 to ${MAX_VERSION}.`, { details: { value: text } });
  }
  return toVersion(BigInt(text));
}

/** Negative when a is older, positive when a is newer, 0 when they are the same version. */
export function compareVersions(a: Version | bigint, b: Version | bigint): number {
  const x = valueOf(a);
  const y = valueOf(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/**
 * One writer's clock. A region's ingest path keeps one per process, feeds it every version it
 * learns of (`observe`) and stamps each write with `next()`.
 */
export class HybridClock {
  readonly regionId: number;
  readonly maxSkewMs: number;
  private readonly now: () => number;
  // The greatest (physical offset, logical) pair issued or observed. Starting at (0, 0) means the
  // first version is never 0, even when the wall clock reads exactly the epoch.
  private physical = 0;
  private logical = 0;

  constructor(options: HybridClockOptions) {
    checkRegionId(options.regionId);
    const maxSkewMs = options.maxSkewMs ?? DEFAULT_MAX_SKEW_MS;
    if (!Number.isSafeInteger(maxSkewMs) || maxSkewMs < 0) throw invalid('maxSkewMs', maxSkewMs, 'an integer number of ms ≥ 0');
    this.regionId = options.regionId;
    this.maxSkewMs = maxSkewMs;
    this.now = options.now ?? Date.now;
  }

  /**
   * The version of a new local write: greater than every version this clock issued or observed.
   * When the wall clock stands still or goes backwards the logical counter advances instead; when
   * the counter is full the physical part is advanced by 1 ms (borrowed from the future: the wall
   * clock catches up and the physical part then follows it again).
   */
  next(): Version {
    const wall = this.wallOffset();
    if (wall > this.physical) {
      this.physical = wall;
      this.logical = 0;
    } else if (this.logical < MAX_LOGICAL) {
      this.logical += 1;
    } else {
      if (this.physical >= MAX_PHYSICAL_OFFSET_MS) {
        throw new GeoError('CLOCK_SKEW', `The version clock is exhausted: its physical part reached ${iso(VERSION_EPOCH_MS + MAX_PHYSICAL_OFFSET_MS)}, the last millisecond versions can hold.`);
      }
      this.physical += 1;
      this.logical = 0;
    }
    return encodeVersion({ physicalMs: this.physical + VERSION_EPOCH_MS, logical: this.logical, regionId: this.regionId });
  }

  /**
   * Merges a version written elsewhere (another region, or another process of this one), so that
   * the next local version is greater than it. Refuses, with CLOCK_SKEW and without changing the
   * clock, a version more than `maxSkewMs` ahead of the local wall clock: accepting it would drag
   * this region's versions into the future, and every region that observed those in turn.
   */
  observe(version: Version | bigint): void {
    const parts = decodeVersion(version);
    const wallMs = this.wallOffset() + VERSION_EPOCH_MS;
    // Measured against the wall clock, not against this clock's own (possibly already advanced)
    // physical part, so skew accepted once can never compound from region to region.
    const skewMs = parts.physicalMs - wallMs;
    if (skewMs > this.maxSkewMs) {
      const decimal = valueOf(version).toString();
      throw new GeoError(
        'CLOCK_SKEW',
        `Version ${decimal} (written by region index ${parts.regionId} at ${iso(parts.physicalMs)}) is ${skewMs} ms ahead of this clock (${iso(wallMs)}); ` +
          `at most ${this.maxSkewMs} ms is accepted. The writer's or this machine's clock is wrong: check time synchronisation on both.`,
        { details: { version: decimal, regionId: parts.regionId, versionTime: iso(parts.physicalMs), localTime: iso(wallMs), skewMs, maxSkewMs: this.maxSkewMs } },
      );
    }
    const offset = parts.physicalMs - VERSION_EPOCH_MS;
    if (offset > this.physical) {
      this.physical = offset;
      this.logical = parts.logical;
    } else if (offset === this.physical && parts.logical > this.logical) {
      this.logical = parts.logical;
    }
  }

  /** The wall clock as an offset from the epoch; CLOCK_SKEW when it lies outside what versions can hold. */
  private wallOffset(): number {
    const ms = this.now();
    if (!Number.isFinite(ms)) throw new GeoError('INTERNAL', `The wall clock returned ${String(ms)}, not a time in ms.`);
    const offset = Math.floor(ms) - VERSION_EPOCH_MS;
    if (offset < 0 || offset > MAX_PHYSICAL_OFFSET_MS) {
      throw new GeoError(
        'CLOCK_SKEW',
        `The wall clock reads ${iso(Math.floor(ms))}, outside the range versions can hold (${iso(VERSION_EPOCH_MS)} to ${iso(VERSION_EPOCH_MS + MAX_PHYSICAL_OFFSET_MS)}); fix this machine's clock.`,
        { details: { wallMs: Math.floor(ms) } },
      );
    }
    return offset;
  }
}

function valueOf(version: Version | bigint): bigint {
  return typeof version === 'bigint' ? version : version.value;
}

function checkRange(value: bigint): void {
  if (value < 1n || value > MAX_VERSION) throw invalid('version', value, `an integer from 1 to ${MAX_VERSION}`);
}

function checkRegionId(regionId: number): void {
  if (!Number.isInteger(regionId) || regionId < 0 || regionId > MAX_REGION_ID) throw invalid('regionId', regionId, `an integer from 0 to ${MAX_REGION_ID}`);
}

function invalid(field: string, value: unknown, expected: string): GeoError {
  const shown = typeof value === 'bigint' ? value.toString() : JSON.stringify(value);
  return new GeoError('INVALID_ARGUMENT', `Invalid ${field}: got ${shown}; expected ${expected}.`, { details: { field, value: shown, expected } });
}

function iso(ms: number): string {
  // Years beyond 275 760 are out of Date's range; no valid input gets there, but a message must never throw.
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? `${ms} ms` : d.toISOString();
}
