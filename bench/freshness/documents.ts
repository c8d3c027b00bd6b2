/**
 * The benchmark's documents: id `<tag>-<seq>`, a body of exactly `size` bytes of JSON
 * (`{"run","seq","title","text"}`) whose text is words from a fixed vocabulary, so OpenSearch
 * analyses it like prose rather than one random token. Bodies are a pure function of (tag, seq):
 * the bulk ceiling writes the very same documents again without keeping them in memory.
 * Sampled documents (the ones the observer looks for) are those with seq % sampleEvery === 0.
 */
import type { JsonObject } from '../../services/events/document-event.ts';

const VOCABULARY_SIZE = 2_000;
const TEXT_POOL_CHARS = 1 << 20;

/** A small deterministic PRNG (mulberry32), so every process builds the same vocabulary and pool. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

function buildPool(): string {
  const rnd = prng(20_261_123);
  const letters = 'abcdefghijklmnopqrstuvwxyz';
  const words = Array.from({ length: VOCABULARY_SIZE }, () => Array.from({ length: 3 + Math.floor(rnd() * 7) }, () => letters[Math.floor(rnd() * 26)]).join(''));
  const parts: string[] = [];
  let length = 0;
  while (length < TEXT_POOL_CHARS) {
    // Zipf-like: low ranks far more often, as in real text.
    const w = words[Math.floor(VOCABULARY_SIZE * rnd() ** 3)] as string;
    parts.push(w);
    length += w.length + 1;
  }
  return parts.join(' ');
}

let pool: string | undefined;

export function documentId(tag: string, seq: number): string {
  return `${tag}-${seq}`;
}

/** The seq of an id of run `tag`, or -1 when the id is not of that run. */
export function seqOf(tag: string, id: string): number {
  if (id.length <= tag.length + 1 || !id.startsWith(tag) || id.charCodeAt(tag.length) !== 45 /* - */) return -1;
  const n = Number(id.slice(tag.length + 1));
  return Number.isInteger(n) && n >= 0 ? n : -1;
}

export function isSampled(seq: number, sampleEvery: number): boolean {
  return seq % sampleEvery === 0;
}

/** The body of document `seq` of run `tag`: `JSON.stringify` of it is exactly `size` bytes (ASCII). */
export function documentBody(tag: string, seq: number, size: number): JsonObject {
  pool ??= buildPool();
  const head = { run: tag, seq, title: `document ${seq} of run ${tag}`, text: '' };
  const room = size - JSON.stringify(head).length;
  if (room < 0) throw new Error(`document size ${size} is too small for the fixed fields`);
  const from = (seq * 7_919) % (pool.length - room - 1);
  return { ...head, text: pool.slice(from, from + room) };
}
