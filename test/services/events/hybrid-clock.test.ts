import { describe, expect, it } from 'vitest';
import {
  compareVersions,
  decodeVersion,
  DEFAULT_MAX_SKEW_MS,
  encodeVersion,
  HybridClock,
  isVersionText,
  MAX_LOGICAL,
  MAX_PHYSICAL_OFFSET_MS,
  MAX_REGION_ID,
  MAX_VERSION,
  parseVersion,
  regionIdOf,
  toVersion,
  VERSION_EPOCH_MS,
} from '../../../services/events/hybrid-clock.ts';
import type { Version } from '../../../services/events/hybrid-clock.ts';
import { thrown } from '../../support/errors.ts';

const T0 = Date.UTC(2026, 2, 1, 12, 0, 0); // 2026-03-01T12:00:00.000Z

/** A wall clock the test sets by hand. */
function manualClock(start = T0): { now: () => number; set: (ms: number) => void; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, set: (ms) => (t = ms), advance: (ms) => (t += ms) };
}

function expectIncreasing(versions: readonly Version[]): void {
  for (let i = 1; i < versions.length; i++) {
    const prev = versions[i - 1] as Version;
    const cur = versions[i] as Version;
    expect(compareVersions(cur, prev), `version ${i} (${cur.decimal}) after ${prev.decimal}`).toBe(1);
  }
}

/** A small deterministic PRNG (mulberry32), so the randomised test fails the same way every time. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('version layout', () => {
  it('puts region in bits 0-6, logical in 7-18 and physical ms since 2025-01-01 in 19-62', () => {
    expect(VERSION_EPOCH_MS).toBe(Date.parse('2025-01-01T00:00:00.000Z'));
    expect(encodeVersion({ physicalMs: VERSION_EPOCH_MS, logical: 0, regionId: 1 }).value).toBe(1n);
    expect(encodeVersion({ physicalMs: VERSION_EPOCH_MS, logical: 1, regionId: 0 }).value).toBe(1n << 7n);
    expect(encodeVersion({ physicalMs: VERSION_EPOCH_MS + 1, logical: 0, regionId: 0 }).value).toBe(1n << 19n);
    expect(encodeVersion({ physicalMs: VERSION_EPOCH_MS + 3, logical: 2, regionId: 5 }).value).toBe((3n << 19n) | (2n << 7n) | 5n);
  });

  it('round-trips parts, integers and decimal text', () => {
    const cases = [
      { physicalMs: VERSION_EPOCH_MS, logical: 0, regionId: 1 },
      { physicalMs: VERSION_EPOCH_MS, logical: 1, regionId: 0 },
      { physicalMs: T0, logical: 0, regionId: 0 },
      { physicalMs: T0, logical: 4095, regionId: 127 },
      { physicalMs: T0 + 123_456, logical: 77, regionId: 2 },
      { physicalMs: VERSION_EPOCH_MS + MAX_PHYSICAL_OFFSET_MS, logical: 0, regionId: 0 },
    ];
    for (const parts of cases) {
      const v = encodeVersion(parts);
      expect(decodeVersion(v)).toEqual(parts);
      expect(decodeVersion(v.value)).toEqual(parts);
      expect(parseVersion(v.decimal)).toEqual(v);
      expect(toVersion(v.value)).toEqual(v);
      expect(v.decimal).toBe(v.value.toString());
    }
  });

  it('reaches exactly 2^63 - 1 with every field at its maximum, in 2582', () => {
    const max = { physicalMs: VERSION_EPOCH_MS + MAX_PHYSICAL_OFFSET_MS, logical: MAX_LOGICAL, regionId: MAX_REGION_ID };
    const v = encodeVersion(max);
    expect(v.value).toBe(MAX_VERSION);
    expect(v.decimal).toBe('9223372036854775807');
    expect(decodeVersion(v)).toEqual(max);
    expect(new Date(max.physicalMs).toISOString()).toBe('2582-06-23T06:20:44.415Z');
    expect([MAX_LOGICAL, MAX_REGION_ID, MAX_PHYSICAL_OFFSET_MS]).toEqual([4095, 127, 2 ** 44 - 1]);
  });

  it('refuses parts out of range and the value 0', () => {
    const bad: Array<[Parameters<typeof encodeVersion>[0], string]> = [
      [{ physicalMs: VERSION_EPOCH_MS - 1, logical: 0, regionId: 0 }, 'Invalid physicalMs: got 1735689599999; expected an integer Unix time in ms from 2025-01-01T00:00:00.000Z to 2582-06-23T06:20:44.415Z.'],
      [{ physicalMs: VERSION_EPOCH_MS + MAX_PHYSICAL_OFFSET_MS + 1, logical: 0, regionId: 0 }, 'Invalid physicalMs: got 19327875644416; expected an integer Unix time in ms from 2025-01-01T00:00:00.000Z to 2582-06-23T06:20:44.415Z.'],
      [{ physicalMs: T0 + 0.5, logical: 0, regionId: 0 }, 'Invalid physicalMs: got 1772366400000.5; expected an integer Unix time in ms from 2025-01-01T00:00:00.000Z to 2582-06-23T06:20:44.415Z.'],
      [{ physicalMs: T0, logical: 4096, regionId: 0 }, 'Invalid logical: got 4096; expected an integer from 0 to 4095.'],
      [{ physicalMs: T0, logical: -1, regionId: 0 }, 'Invalid logical: got -1; expected an integer from 0 to 4095.'],
      [{ physicalMs: T0, logical: 0, regionId: 128 }, 'Invalid regionId: got 128; expected an integer from 0 to 127.'],
      [{ physicalMs: VERSION_EPOCH_MS, logical: 0, regionId: 0 }, 'Invalid parts: got {"physicalMs":1735689600000,"logical":0,"regionId":0}; expected a version > 0: at the epoch millisecond, region 0 must use a logical counter ≥ 1.'],
    ];
    for (const [parts, message] of bad) {
      const err = thrown(() => encodeVersion(parts));
      expect(err.code).toBe('INVALID_ARGUMENT');
      expect(err.message).toBe(message);
    }
  });

  it('accepts only canonical decimal text from 1 to 2^63 - 1', () => {
    for (const good of ['1', '42', '9223372036854775807']) expect(isVersionText(good)).toBe(true);
    for (const bad of ['0', '-1', '01', '+1', ' 1', '1 ', '1e3', '1.0', '0x10', '', '9223372036854775808', '99999999999999999999', 1, 1n, null]) {
      expect(isVersionText(bad), JSON.stringify(String(bad))).toBe(false);
    }
    const err = thrown(() => parseVersion('9223372036854775808'));
    expect(err.code).toBe('INVALID_ARGUMENT');
    expect(err.message).toBe('"9223372036854775808" is not a version: expected the decimal text of an integer from 1 to 9223372036854775807.');
    expect(thrown(() => toVersion(0n)).message).toBe('Invalid version: got 0; expected an integer from 1 to 9223372036854775807.');
    expect(thrown(() => decodeVersion(MAX_VERSION + 1n)).code).toBe('INVALID_ARGUMENT');
  });

  it('compares as integers: physical first, then logical, then region', () => {
    const v = (physicalMs: number, logical: number, regionId: number): Version => encodeVersion({ physicalMs, logical, regionId });
    expect(compareVersions(v(T0, 0, 127), v(T0 + 1, 0, 0))).toBe(-1);
    expect(compareVersions(v(T0, 4095, 127), v(T0 + 1, 0, 0))).toBe(-1);
    expect(compareVersions(v(T0, 1, 0), v(T0, 0, 127))).toBe(1);
    expect(compareVersions(v(T0, 1, 2), v(T0, 1, 1))).toBe(1);
    expect(compareVersions(v(T0, 1, 2), v(T0, 1, 2).value)).toBe(0);
  });
});

describe('regionIdOf', () => {
  it('is the position in the code-unit-sorted names, whatever order they are listed in', () => {
    const names = ['us-east', 'eu-west', 'ap-southeast'];
    expect(names.map((n) => regionIdOf(names, n))).toEqual([2, 1, 0]);
    expect(regionIdOf(['ap-southeast', 'us-east', 'eu-west'], 'us-east')).toBe(2);
  });

  it('names the valid regions for an unknown one', () => {
    const err = thrown(() => regionIdOf(['us-east', 'eu-west'], 'mars-1'));
    expect(err.code).toBe('UNKNOWN_REGION');
    expect(err.message).toBe('Unknown region "mars-1". Valid regions: eu-west, us-east.');
  });

  it('refuses more than 128 regions', () => {
    const names = Array.from({ length: 129 }, (_, i) => `r-${String(i).padStart(3, '0')}`);
    expect(regionIdOf(names.slice(0, 128), 'r-127')).toBe(127);
    const err = thrown(() => regionIdOf(names, 'r-000'));
    expect(err.code).toBe('INVALID_ARGUMENT');
    expect(err.message).toBe('The topology has 129 regions; versions have room for 128 region indexes at most.');
  });
});

describe('HybridClock.next', () => {
  it('follows the wall clock, with logical 0 on each new millisecond', () => {
    const wall = manualClock();
    const clock = new HybridClock({ regionId: 3, now: wall.now });
    const a = clock.next();
    wall.advance(5);
    const b = clock.next();
    expect(decodeVersion(a)).toEqual({ physicalMs: T0, logical: 0, regionId: 3 });
    expect(decodeVersion(b)).toEqual({ physicalMs: T0 + 5, logical: 0, regionId: 3 });
  });

  it('counts within one millisecond', () => {
    const clock = new HybridClock({ regionId: 0, now: () => T0 });
    const versions = Array.from({ length: 5 }, () => clock.next());
    expectIncreasing(versions);
    expect(versions.map((v) => decodeVersion(v).logical)).toEqual([0, 1, 2, 3, 4]);
  });

  it('stays monotonic when the wall clock goes backwards, and follows it again once it has caught up', () => {
    const wall = manualClock();
    const clock = new HybridClock({ regionId: 1, now: wall.now });
    const versions = [clock.next()];
    wall.set(T0 - 10_000); // NTP steps the clock back 10 s
    versions.push(clock.next(), clock.next());
    wall.set(T0 - 5_000);
    versions.push(clock.next());
    wall.set(T0 + 1);
    versions.push(clock.next());
    expectIncreasing(versions);
    expect(versions.map((v) => decodeVersion(v))).toEqual([
      { physicalMs: T0, logical: 0, regionId: 1 },
      { physicalMs: T0, logical: 1, regionId: 1 },
      { physicalMs: T0, logical: 2, regionId: 1 },
      { physicalMs: T0, logical: 3, regionId: 1 },
      { physicalMs: T0 + 1, logical: 0, regionId: 1 },
    ]);
  });

  it('advances the physical part when the counter is full', () => {
    const wall = manualClock();
    const clock = new HybridClock({ regionId: 0, now: wall.now });
    const versions = Array.from({ length: MAX_LOGICAL + 3 }, () => clock.next());
    expectIncreasing(versions);
    expect(decodeVersion(versions[MAX_LOGICAL] as Version)).toEqual({ physicalMs: T0, logical: 4095, regionId: 0 });
    expect(decodeVersion(versions[MAX_LOGICAL + 1] as Version)).toEqual({ physicalMs: T0 + 1, logical: 0, regionId: 0 });
    expect(decodeVersion(versions[MAX_LOGICAL + 2] as Version)).toEqual({ physicalMs: T0 + 1, logical: 1, regionId: 0 });
    wall.advance(1); // the wall clock reaches the borrowed millisecond: counting continues there
    expect(decodeVersion(clock.next())).toEqual({ physicalMs: T0 + 1, logical: 2, regionId: 0 });
    wall.advance(1);
    expect(decodeVersion(clock.next())).toEqual({ physicalMs: T0 + 2, logical: 0, regionId: 0 });
  });

  it('never issues 0, even at the epoch millisecond in region 0', () => {
    const clock = new HybridClock({ regionId: 0, now: () => VERSION_EPOCH_MS });
    expect(clock.next().value).toBe(1n << 7n);
  });

  it('refuses a wall clock outside the range versions can hold', () => {
    const before = thrown(() => new HybridClock({ regionId: 0, now: () => Date.UTC(2020, 0, 1) }).next());
    expect(before.code).toBe('CLOCK_SKEW');
    expect(before.message).toBe(
      'The wall clock reads 2020-01-01T00:00:00.000Z, outside the range versions can hold (2025-01-01T00:00:00.000Z to 2582-06-23T06:20:44.415Z); fix this machine\'s clock.',
    );
    expect(thrown(() => new HybridClock({ regionId: 0, now: () => VERSION_EPOCH_MS + MAX_PHYSICAL_OFFSET_MS + 1 }).next()).code).toBe('CLOCK_SKEW');
    expect(thrown(() => new HybridClock({ regionId: 0, now: () => Number.NaN }).next()).code).toBe('INTERNAL');
  });

  it('reports exhaustion at the last millisecond rather than wrapping around', () => {
    const clock = new HybridClock({ regionId: 127, now: () => VERSION_EPOCH_MS + MAX_PHYSICAL_OFFSET_MS });
    for (let i = 0; i <= MAX_LOGICAL; i++) clock.next();
    const err = thrown(() => clock.next());
    expect(err.code).toBe('CLOCK_SKEW');
    expect(err.message).toBe('The version clock is exhausted: its physical part reached 2582-06-23T06:20:44.415Z, the last millisecond versions can hold.');
  });

  it('checks its options', () => {
    expect(thrown(() => new HybridClock({ regionId: 128 })).message).toBe('Invalid regionId: got 128; expected an integer from 0 to 127.');
    expect(thrown(() => new HybridClock({ regionId: 1.5 })).code).toBe('INVALID_ARGUMENT');
    expect(thrown(() => new HybridClock({ regionId: 0, maxSkewMs: -1 })).message).toBe('Invalid maxSkewMs: got -1; expected an integer number of ms ≥ 0.');
    expect(new HybridClock({ regionId: 0 }).maxSkewMs).toBe(DEFAULT_MAX_SKEW_MS);
    expect(DEFAULT_MAX_SKEW_MS).toBe(60_000);
  });

  it('uses Date.now by default', () => {
    const before = Date.now();
    const { physicalMs } = decodeVersion(new HybridClock({ regionId: 0 }).next());
    expect(physicalMs).toBeGreaterThanOrEqual(before);
    expect(physicalMs).toBeLessThanOrEqual(Date.now());
  });
});

describe('HybridClock.observe', () => {
  it('makes the next local version greater than a version from a clock ahead of ours', () => {
    const local = new HybridClock({ regionId: 0, now: () => T0 });
    const remote = encodeVersion({ physicalMs: T0 + 30_000, logical: 9, regionId: 2 });
    local.observe(remote);
    const next = local.next();
    expect(compareVersions(next, remote)).toBe(1);
    expect(decodeVersion(next)).toEqual({ physicalMs: T0 + 30_000, logical: 10, regionId: 0 });
  });

  it('beats a version at the same millisecond with a higher counter and region', () => {
    const local = new HybridClock({ regionId: 0, now: () => T0 });
    local.next();
    const remote = encodeVersion({ physicalMs: T0, logical: 7, regionId: 127 });
    local.observe(remote);
    expect(decodeVersion(local.next())).toEqual({ physicalMs: T0, logical: 8, regionId: 0 });
  });

  it('beats an observed version whose counter is full by moving to the next millisecond', () => {
    const local = new HybridClock({ regionId: 0, now: () => T0 });
    const remote = encodeVersion({ physicalMs: T0, logical: MAX_LOGICAL, regionId: 5 });
    local.observe(remote);
    expect(decodeVersion(local.next())).toEqual({ physicalMs: T0 + 1, logical: 0, regionId: 0 });
  });

  it('changes nothing for an older version', () => {
    const a = new HybridClock({ regionId: 1, now: () => T0 });
    const b = new HybridClock({ regionId: 1, now: () => T0 });
    a.next();
    b.next();
    a.observe(encodeVersion({ physicalMs: T0 - 1_000, logical: 4000, regionId: 2 }));
    a.observe(encodeVersion({ physicalMs: T0, logical: 0, regionId: 2 }));
    expect(a.next()).toEqual(b.next());
  });

  it('accepts a bigint as well as a Version', () => {
    const local = new HybridClock({ regionId: 0, now: () => T0 });
    const remote = encodeVersion({ physicalMs: T0 + 5, logical: 0, regionId: 1 });
    local.observe(remote.value);
    expect(compareVersions(local.next(), remote)).toBe(1);
  });

  it('refuses a version more than maxSkewMs ahead of the wall clock, naming the version and the skew', () => {
    const local = new HybridClock({ regionId: 0, now: () => T0 });
    const atLimit = encodeVersion({ physicalMs: T0 + 60_000, logical: 0, regionId: 2 });
    const beyond = encodeVersion({ physicalMs: T0 + 60_001, logical: 3, regionId: 2 });
    const err = thrown(() => local.observe(beyond));
    expect(err.code).toBe('CLOCK_SKEW');
    expect(err.retriable).toBe(false);
    expect(err.message).toBe(
      `Version ${beyond.decimal} (written by region index 2 at 2026-03-01T12:01:00.001Z) is 60001 ms ahead of this clock (2026-03-01T12:00:00.000Z); ` +
        'at most 60000 ms is accepted. The writer\'s or this machine\'s clock is wrong: check time synchronisation on both.',
    );
    expect(err.details).toEqual({
      version: beyond.decimal,
      regionId: 2,
      versionTime: '2026-03-01T12:01:00.001Z',
      localTime: '2026-03-01T12:00:00.000Z',
      skewMs: 60_001,
      maxSkewMs: 60_000,
    });
    // The refused version left no trace: the next version is the wall clock's.
    expect(decodeVersion(local.next())).toEqual({ physicalMs: T0, logical: 0, regionId: 0 });
    local.observe(atLimit);
    expect(decodeVersion(local.next())).toEqual({ physicalMs: T0 + 60_000, logical: 1, regionId: 0 });
  });

  it('measures skew against the wall clock, so accepted skew never compounds', () => {
    const local = new HybridClock({ regionId: 0, now: () => T0, maxSkewMs: 1_000 });
    local.observe(encodeVersion({ physicalMs: T0 + 1_000, logical: 0, regionId: 1 }));
    // This clock now issues versions 1 s ahead, but a further 1 s is still measured from T0.
    expect(thrown(() => local.observe(encodeVersion({ physicalMs: T0 + 1_001, logical: 0, regionId: 2 }))).code).toBe('CLOCK_SKEW');
  });

  it('takes its limit from maxSkewMs', () => {
    const strict = new HybridClock({ regionId: 0, now: () => T0, maxSkewMs: 0 });
    strict.observe(encodeVersion({ physicalMs: T0, logical: 5, regionId: 1 }));
    expect(thrown(() => strict.observe(encodeVersion({ physicalMs: T0 + 1, logical: 0, regionId: 1 }))).details['skewMs']).toBe(1);
  });
});

describe('concurrent writes in several regions', () => {
  it('order two writes in the same millisecond by region index, the same way everywhere', () => {
    const names = ['us-east', 'eu-west', 'ap-southeast'];
    const usEast = new HybridClock({ regionId: regionIdOf(names, 'us-east'), now: () => T0 });
    const euWest = new HybridClock({ regionId: regionIdOf(names, 'eu-west'), now: () => T0 });
    const fromUs = usEast.next();
    const fromEu = euWest.next();
    expect(fromUs.value).not.toBe(fromEu.value);
    expect(decodeVersion(fromUs)).toMatchObject({ physicalMs: T0, logical: 0 });
    expect(decodeVersion(fromEu)).toMatchObject({ physicalMs: T0, logical: 0 });
    // us-east (index 2) wins over eu-west (index 1), whichever arrives first.
    const winner = (arrivals: readonly Version[]): Version => arrivals.reduce((best, v) => (compareVersions(v, best) > 0 ? v : best));
    expect(winner([fromUs, fromEu])).toBe(fromUs);
    expect(winner([fromEu, fromUs])).toBe(fromUs);
  });

  it('issue unique versions that respect causality under skewed, jumping clocks (randomised, seeded)', () => {
    const random = prng(20260301);
    const skews = [0, 250, -400];
    const walls = skews.map((skew) => manualClock(T0 + skew));
    const clocks = walls.map((w, regionId) => new HybridClock({ regionId, now: w.now }));
    const issued: Array<{ region: number; version: Version }> = [];
    const seen = new Set<bigint>();
    for (let step = 0; step < 5_000; step++) {
      const r = Math.floor(random() * 3);
      const wall = walls[r] as ReturnType<typeof manualClock>;
      const clock = clocks[r] as HybridClock;
      // Mostly forward, sometimes standing still, sometimes stepped back by up to 50 ms.
      const dice = random();
      wall.advance(dice < 0.6 ? Math.floor(random() * 3) : dice < 0.9 ? 0 : -Math.floor(random() * 50));
      if (random() < 0.4 && issued.length > 0) {
        // Replication delivers some earlier write; the next local write must beat it.
        const delivered = (issued[Math.floor(random() * issued.length)] as { version: Version }).version;
        clock.observe(delivered);
        const v = clock.next();
        expect(compareVersions(v, delivered)).toBe(1);
        issued.push({ region: r, version: v });
      } else {
        issued.push({ region: r, version: clock.next() });
      }
      const last = (issued[issued.length - 1] as { version: Version }).version;
      expect(seen.has(last.value)).toBe(false);
      seen.add(last.value);
    }
    for (let r = 0; r < 3; r++) {
      const own = issued.filter((e) => e.region === r).map((e) => e.version);
      expectIncreasing(own);
      expect(own.every((v) => decodeVersion(v).regionId === r)).toBe(true);
    }
  });
});
