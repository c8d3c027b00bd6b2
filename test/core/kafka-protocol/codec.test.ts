import { describe, expect, it } from 'vitest';
import { Reader, Writer } from '../../../core/kafka-protocol/codec.ts';
import { GeoError } from '../../../core/errors.ts';
import { thrown } from '../../support/errors.ts';

function bytes(w: Writer): number[] {
  return [...w.toBuffer()];
}


describe('kafka protocol codec', () => {
  it('writes integers big-endian, two-complement', () => {
    expect(bytes(new Writer().int8(-1).int16(0x0102).int32(-2))).toEqual([0xff, 0x01, 0x02, 0xff, 0xff, 0xff, 0xfe]);
    expect(bytes(new Writer().int64(0x0102030405060708n))).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it.each([
    ['int8', [-128, -1, 0, 1, 127]],
    ['int16', [-32768, -1, 0, 1, 32767]],
    ['int32', [-2147483648, -1, 0, 1, 2147483647]],
  ] as const)('round-trips %s across its range', (type, values) => {
    const w = new Writer(1);
    for (const v of values) w[type](v);
    const r = new Reader(w.toBuffer());
    expect(values.map(() => r[type]())).toEqual(values);
    expect(r.remaining).toBe(0);
  });

  it('round-trips int64 and booleans', () => {
    const r = new Reader(new Writer().int64(-(2n ** 63n)).int64(2n ** 63n - 1n).boolean(true).boolean(false).toBuffer());
    expect([r.int64(), r.int64(), r.boolean(), r.boolean()]).toEqual([-(2n ** 63n), 2n ** 63n - 1n, true, false]);
  });

  it('reads any non-zero byte as true', () => {
    expect(new Reader(Buffer.from([0x02])).boolean()).toBe(true);
  });

  it('writes STRING as an int16 byte length then UTF-8, and NULLABLE_STRING null as length -1', () => {
    expect(bytes(new Writer().string('ab'))).toEqual([0, 2, 0x61, 0x62]);
    expect(bytes(new Writer().string(''))).toEqual([0, 0]);
    expect(bytes(new Writer().nullableString(null))).toEqual([0xff, 0xff]);
    // Length counts bytes, not UTF-16 units.
    expect(bytes(new Writer().string('é'))).toEqual([0, 2, 0xc3, 0xa9]);
  });

  it('round-trips strings, including non-ASCII, empty, null and the longest allowed', () => {
    const long = 'x'.repeat(32767);
    const w = new Writer(8).string('cleanup.policy').string('').string('größe 🚀').nullableString(null).nullableString('v').string(long);
    const r = new Reader(w.toBuffer());
    expect([r.string(), r.string(), r.string(), r.nullableString(), r.nullableString(), r.string()]).toEqual(['cleanup.policy', '', 'größe 🚀', null, 'v', long]);
    expect(r.remaining).toBe(0);
  });

  it('writes ARRAY as an int32 count then the elements, and a null array as count -1', () => {
    expect(bytes(new Writer().array([1, 2], (w, v) => w.int16(v)))).toEqual([0, 0, 0, 2, 0, 1, 0, 2]);
    expect(bytes(new Writer().nullableArray(null, (w, v: number) => w.int8(v)))).toEqual([0xff, 0xff, 0xff, 0xff]);
    expect(bytes(new Writer().array([], (w, v: number) => w.int8(v)))).toEqual([0, 0, 0, 0]);
  });

  it('round-trips nested arrays of structs', () => {
    const data = [
      { name: 'orders', keys: ['retention.ms', 'cleanup.policy'] as string[] | null },
      { name: 'users', keys: null },
      { name: 'empty', keys: [] },
    ];
    const w = new Writer(4).array(data, (x, d) => {
      x.int8(2).string(d.name).nullableArray(d.keys, (y, k) => y.string(k));
    });
    const r = new Reader(w.toBuffer());
    const back = r.array((x) => {
      x.int8();
      return { name: x.string(), keys: x.nullableArray((y) => y.string()) };
    });
    expect(back).toEqual(data);
    expect(r.remaining).toBe(0);
  });

  it('reads from a view into a larger buffer without touching the bytes around it', () => {
    const backing = Buffer.from([9, 9, 0, 1, 0x41, 9]);
    const r = new Reader(backing.subarray(2, 5));
    expect(r.string()).toBe('A');
    expect(r.remaining).toBe(0);
    expect(() => r.int8()).toThrow(GeoError);
  });

  it('rejects values out of their type range as INVALID_ARGUMENT', () => {
    for (const fn of [() => new Writer().int8(128), () => new Writer().int16(-32769), () => new Writer().int32(2 ** 31), () => new Writer().int32(1.5), () => new Writer().int64(2n ** 63n)]) {
      const err = thrown(fn);
      expect(err.code).toBe('INVALID_ARGUMENT');
      expect(err.retriable).toBe(false);
    }
    expect(thrown(() => new Writer().string('x'.repeat(32768))).code).toBe('INVALID_ARGUMENT');
  });

  it('reports truncated or impossible input as a malformed message (KAFKA_OPERATION_FAILED)', () => {
    const cases: Array<[string, () => unknown]> = [
      ['int32 past the end', () => new Reader(Buffer.from([0, 0, 1])).int32()],
      ['string body past the end', () => new Reader(Buffer.from([0, 5, 0x61])).string()],
      ['null STRING', () => new Reader(Buffer.from([0xff, 0xff])).string()],
      ['negative string length', () => new Reader(Buffer.from([0xff, 0xfe])).nullableString()],
      ['null ARRAY', () => new Reader(Buffer.from([0xff, 0xff, 0xff, 0xff])).array((r) => r.int8())],
      ['array count larger than the input', () => new Reader(Buffer.from([0x7f, 0xff, 0xff, 0xff, 0])).array((r) => r.int8())],
      ['negative array count', () => new Reader(Buffer.from([0xff, 0xff, 0xff, 0xfe])).nullableArray((r) => r.int8())],
    ];
    for (const [what, fn] of cases) {
      const err = thrown(fn);
      expect(err.code, what).toBe('KAFKA_OPERATION_FAILED');
      expect(err.details['reason'], what).toBe('malformed');
    }
  });

  it('grows its buffer as needed and toBuffer returns a copy', () => {
    const w = new Writer(1);
    for (let i = 0; i < 1000; i++) w.int32(i);
    const out = w.toBuffer();
    expect(out.length).toBe(4000);
    expect(w.length).toBe(4000);
    out[0] = 0x55;
    expect(w.toBuffer()[0]).toBe(0);
    const r = new Reader(w.toBuffer());
    expect(Array.from({ length: 1000 }, () => r.int32())).toEqual(Array.from({ length: 1000 }, (_, i) => i));
  });
});
