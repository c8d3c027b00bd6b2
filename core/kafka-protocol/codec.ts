/**
 * Big-endian encoding of the Kafka protocol's primitive types, non-flexible variants only
 * (INT8/16/32/64, BOOLEAN, STRING, NULLABLE_STRING, ARRAY, nullable ARRAY): what the
 * non-flexible API versions this package speaks need, and nothing more.
 *
 * Writing a value out of its type's range is the caller's mistake (INVALID_ARGUMENT); reading
 * past the end or a negative length where none is allowed means the peer sent a malformed
 * message (KAFKA_OPERATION_FAILED).
 */
import { GeoError } from '../errors.ts';

const INT16_MAX = 0x7fff;
const INITIAL_CAPACITY = 256;

export class Writer {
  private buf: Buffer;
  private pos = 0;

  constructor(capacity = INITIAL_CAPACITY) {
    this.buf = Buffer.alloc(Math.max(16, capacity));
  }

  /** Bytes written so far. */
  get length(): number {
    return this.pos;
  }

  int8(v: number): this {
    checkInt(v, -0x80, 0x7f, 'int8');
    this.reserve(1).writeInt8(v, this.pos);
    this.pos += 1;
    return this;
  }

  int16(v: number): this {
    checkInt(v, -0x8000, INT16_MAX, 'int16');
    this.reserve(2).writeInt16BE(v, this.pos);
    this.pos += 2;
    return this;
  }

  int32(v: number): this {
    checkInt(v, -0x80000000, 0x7fffffff, 'int32');
    this.reserve(4).writeInt32BE(v, this.pos);
    this.pos += 4;
    return this;
  }

  int64(v: bigint): this {
    if (v < -(2n ** 63n) || v > 2n ** 63n - 1n) throw outOfRange(v, 'int64');
    this.reserve(8).writeBigInt64BE(v, this.pos);
    this.pos += 8;
    return this;
  }

  boolean(v: boolean): this {
    return this.int8(v ? 1 : 0);
  }

  /** STRING: int16 byte length, then UTF-8. */
  string(v: string): this {
    const bytes = Buffer.from(v, 'utf8');
    if (bytes.length > INT16_MAX) {
      throw new GeoError('INVALID_ARGUMENT', `string of ${bytes.length} UTF-8 bytes is longer than a Kafka STRING allows (${INT16_MAX})`, {
        details: { length: bytes.length, max: INT16_MAX },
      });
    }
    this.int16(bytes.length);
    return this.raw(bytes);
  }

  /** NULLABLE_STRING: like STRING, with length -1 for null. */
  nullableString(v: string | null): this {
    return v === null ? this.int16(-1) : this.string(v);
  }

  /** ARRAY: int32 element count, then each element. */
  array<T>(items: readonly T[], write: (w: this, item: T) => void): this {
    this.int32(items.length);
    for (const item of items) write(this, item);
    return this;
  }

  /** Nullable ARRAY: like ARRAY, with count -1 for null. */
  nullableArray<T>(items: readonly T[] | null, write: (w: this, item: T) => void): this {
    return items === null ? this.int32(-1) : this.array(items, write);
  }

  /** Bytes copied as they are, with no length prefix. */
  raw(bytes: Uint8Array): this {
    this.reserve(bytes.length).set(bytes, this.pos);
    this.pos += bytes.length;
    return this;
  }

  /** A copy of the bytes written so far. */
  toBuffer(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.pos));
  }

  private reserve(n: number): Buffer {
    if (this.pos + n > this.buf.length) {
      const grown = Buffer.alloc(Math.max(this.buf.length * 2, this.pos + n));
      this.buf.copy(grown, 0, 0, this.pos);
      this.buf = grown;
    }
    return this.buf;
  }
}

export class Reader {
  private readonly buf: Buffer;
  private pos = 0;

  constructor(bytes: Uint8Array) {
    this.buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get offset(): number {
    return this.pos;
  }

  get remaining(): number {
    return this.buf.length - this.pos;
  }

  int8(): number {
    const v = this.need(1, 'int8').readInt8(this.pos);
    this.pos += 1;
    return v;
  }

  int16(): number {
    const v = this.need(2, 'int16').readInt16BE(this.pos);
    this.pos += 2;
    return v;
  }

  int32(): number {
    const v = this.need(4, 'int32').readInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  int64(): bigint {
    const v = this.need(8, 'int64').readBigInt64BE(this.pos);
    this.pos += 8;
    return v;
  }

  /** BOOLEAN: any non-zero byte is true, as the protocol guide specifies. */
  boolean(): boolean {
    return this.int8() !== 0;
  }

  string(): string {
    const s = this.nullableString();
    if (s === null) throw malformed('a null STRING where the schema does not allow null', this.pos - 2);
    return s;
  }

  nullableString(): string | null {
    const at = this.pos;
    const len = this.int16();
    if (len === -1) return null;
    if (len < 0) throw malformed(`string length ${len}`, at);
    const s = this.need(len, 'string').toString('utf8', this.pos, this.pos + len);
    this.pos += len;
    return s;
  }

  array<T>(read: (r: this) => T): T[] {
    const items = this.nullableArray(read);
    if (items === null) throw malformed('a null ARRAY where the schema does not allow null', this.pos - 4);
    return items;
  }

  nullableArray<T>(read: (r: this) => T): T[] | null {
    const at = this.pos;
    const count = this.int32();
    if (count === -1) return null;
    // Each element takes at least one byte: a bigger count cannot be honest, so fail before allocating.
    if (count < 0 || count > this.remaining) throw malformed(`array length ${count} with ${this.remaining} bytes left`, at);
    const items: T[] = [];
    for (let i = 0; i < count; i++) items.push(read(this));
    return items;
  }

  /** The next `n` bytes as they are (a view, not a copy). */
  raw(n: number): Buffer {
    const v = this.need(n, 'bytes').subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }

  private need(n: number, what: string): Buffer {
    if (n > this.remaining) throw malformed(`${what} needs ${n} bytes, ${this.remaining} left`, this.pos);
    return this.buf;
  }
}

function checkInt(v: number, min: number, max: number, type: string): void {
  if (!Number.isInteger(v) || v < min || v > max) throw outOfRange(v, type);
}

function outOfRange(v: number | bigint, type: string): GeoError {
  return new GeoError('INVALID_ARGUMENT', `${String(v)} is not a valid Kafka ${type}`, { details: { value: String(v), type } });
}

function malformed(what: string, offset: number): GeoError {
  return new GeoError('KAFKA_OPERATION_FAILED', `malformed Kafka message: ${what} (at byte ${offset})`, { details: { reason: 'malformed', offset } });
}
