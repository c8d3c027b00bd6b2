/**
 * The OpenSearch bulk ceiling of one region, in the same run: the same documents the run wrote
 * (same ids, bodies, versions and bookkeeping fields), serialised exactly as the indexer does
 * (`bulkItem`: an `index` action with `version_type: external`), written straight to the
 * region's OpenSearch, without Kafka, into a fresh index created from the same mappings and
 * settings (`ensureIndex`, refresh_interval 1 s). Bulks of up to the indexer's flushBytes, as
 * many in flight as it has lanes. When the run wrote fewer than `minDocs` (the writer could not
 * keep up), more documents of the same generator (a run tag of their own, versions counting up)
 * fill it up, so the ceiling is a rate over many bulks rather than the latency of one. Bodies are built before the clock starts: this is what
 * OpenSearch takes, not what a Node process can serialise. Timed from the first send to the
 * last answer.
 */
import { randomUUID } from 'node:crypto';
import { Client } from '@opensearch-project/opensearch';
import { bulkItem } from '../../services/indexer/bulk-writer.ts';
import { ensureIndex } from '../../services/indexer/index-setup.ts';
import type { UpsertEvent } from '../../services/events/document-event.ts';
import { round } from '../support/stats.ts';
import { documentBody, documentId } from './documents.ts';

export interface CeilingDocs {
  tag: string;
  bodySize: number;
  /** Per seq: the version the 202 carried (null: not written, skipped) and when (wall ms). */
  versions: Array<string | null>;
  ackAt: Array<number | null>;
}

export interface CeilingResult {
  region: string;
  docs: number;
  /** Of those, documents added because the run wrote fewer than minDocs. */
  filler: number;
  bulks: number;
  seconds: number;
  docsPerSec: number;
  /** Items OpenSearch did not answer 2xx (none expected: fresh ids). */
  itemErrors: number;
}

export async function bulkCeiling(o: { region: string; searchUrl: string; alias: string; origin: string; runs: readonly CeilingDocs[]; flushBytes: number; concurrency: number; maxDocs: number; minDocs: number }): Promise<CeilingResult> {
  const client = new Client({ node: o.searchUrl, requestTimeout: 120_000 });
  try {
    await ensureIndex(client, o.alias);
    const bodies: string[] = [];
    let current: string[] = [];
    let bytes = 0;
    let docs = 0;
    const written = o.runs.reduce((n, r) => n + r.versions.filter((v) => v !== null).length, 0);
    const fill = Math.max(0, o.minDocs - written);
    const filler: CeilingDocs = { tag: `ceiling${randomUUID().slice(0, 6)}`, bodySize: o.runs[0]?.bodySize ?? 1024, versions: Array.from({ length: fill }, (_, i) => String(1_000_000 + i)), ackAt: [] };
    for (const run of [...o.runs, filler]) {
      for (let seq = 0; seq < run.versions.length && docs < o.maxDocs; seq++) {
        const version = run.versions[seq];
        if (!version) continue;
        const event: UpsertEvent = { schema: 1, op: 'upsert', id: documentId(run.tag, seq), version, origin: o.origin, ts: new Date(run.ackAt[seq] ?? Date.now()).toISOString(), body: documentBody(run.tag, seq, run.bodySize) };
        const item = bulkItem(event, { topic: 'ceiling', partition: 0, offset: String(seq), key: null, value: null, headers: {} }, o.alias);
        if (bytes + item.bytes > o.flushBytes && current.length > 0) {
          bodies.push(current.join(''));
          current = [];
          bytes = 0;
        }
        current.push(item.lines);
        bytes += item.bytes;
        docs++;
      }
    }
    if (current.length > 0) bodies.push(current.join(''));
    let next = 0;
    let itemErrors = 0;
    const t0 = performance.now();
    const worker = async (): Promise<void> => {
      while (next < bodies.length) {
        const body = bodies[next++] as string;
        const res = await client.bulk({ body: body as unknown as never });
        const answer = res.body as { errors?: boolean; items?: Array<Record<string, { status: number }>> };
        if (answer.errors) for (const entry of answer.items ?? []) if ((Object.values(entry)[0]?.status ?? 500) >= 300) itemErrors++;
      }
    };
    await Promise.all(Array.from({ length: o.concurrency }, worker));
    const seconds = (performance.now() - t0) / 1000;
    return { region: o.region, docs, filler: Math.min(fill, Math.max(0, docs - written)), bulks: bodies.length, seconds: round(seconds, 3), docsPerSec: round(docs / seconds, 1), itemErrors };
  } finally {
    await client.close().catch(() => undefined);
  }
}
