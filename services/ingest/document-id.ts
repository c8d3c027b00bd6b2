/**
 * Ids for documents created without one (`POST /documents`): UUID version 7 (RFC 9562), whose
 * first 48 bits are the Unix time in ms, so generated ids sort roughly by creation time. The
 * text form (hex digits and "-", a hex digit first) is a valid document id as it stands.
 */
import { randomBytes } from 'node:crypto';

/** A UUID v7: 48 bits of `nowMs`, the version nibble 7, the RFC variant bits, 74 random bits. */
export function uuidV7(nowMs: number = Date.now(), random: Uint8Array = randomBytes(10)): string {
  const b = Buffer.alloc(16);
  b.writeUIntBE(Math.max(0, Math.floor(nowMs)) % 2 ** 48, 0, 6);
  Buffer.from(random.subarray(0, 10)).copy(b, 6);
  b[6] = ((b[6] ?? 0) & 0x0f) | 0x70;
  b[8] = ((b[8] ?? 0) & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
