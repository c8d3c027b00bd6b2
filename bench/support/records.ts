/**
 * Benchmark record values. Every value is exactly `size` bytes:
 *   [0, 8)  produce time (ms since the epoch, float64 LE), read by the latency consumer
 *   [8, 12) sequence number within the run (uint32 LE), for counting distinct records
 *   [12,16) run tag (uint32 LE), so a verifier counts only this run's records
 *   [16, size) filler cut from a pool of random bytes (incompressible, so lz4 cannot shrink it)
 */
import { randomBytes, randomInt } from 'node:crypto';

export const VALUE_HEADER_BYTES = 16;
const POOL_BYTES = 1 << 20;

export class RecordFactory {
  readonly tag: number;
  private readonly pool: Buffer;

  constructor(readonly size: number) {
    if (!Number.isInteger(size) || size < VALUE_HEADER_BYTES) throw new Error(`record size must be an integer >= ${VALUE_HEADER_BYTES} bytes (got ${size})`);
    this.tag = randomInt(1, 0xffff_ffff);
    this.pool = randomBytes(POOL_BYTES);
  }

  value(seq: number, producedAt: number): Buffer {
    const b = Buffer.allocUnsafe(this.size);
    b.writeDoubleLE(producedAt, 0);
    b.writeUInt32LE(seq, 8);
    b.writeUInt32LE(this.tag, 12);
    const from = (seq * 7_919) % (POOL_BYTES - this.size);
    this.pool.copy(b, VALUE_HEADER_BYTES, from, from + this.size - VALUE_HEADER_BYTES);
    return b;
  }
}

export interface DecodedValue {
  producedAt: number;
  seq: number;
  tag: number;
}

export function decodeValue(v: Buffer | null | undefined): DecodedValue | undefined {
  if (!v || v.length < VALUE_HEADER_BYTES) return undefined;
  return { producedAt: v.readDoubleLE(0), seq: v.readUInt32LE(8), tag: v.readUInt32LE(12) };
}
