/**
 * What one region's index holds for a set of document ids, read straight from OpenSearch with
 * multi-get (real time: it sees writes not yet refreshed into searches), tombstones included.
 */
import { Client } from '@opensearch-project/opensearch';
import { DELETED_FIELD, VERSION_FIELD } from '../services/indexer/tombstone.ts';

export interface StoredDoc {
  version: string;
  deleted: boolean;
  /** The workload's write number, for live documents it wrote. */
  w: number | undefined;
}

const CHUNK = 500;

/** id → stored document, for the ids the region has; undefined when OpenSearch does not answer. */
export async function indexSnapshot(url: string, index: string, ids: readonly string[]): Promise<Map<string, StoredDoc> | undefined> {
  const client = new Client({ node: url, requestTimeout: 15_000 });
  const out = new Map<string, StoredDoc>();
  try {
    for (let i = 0; i < ids.length; i += CHUNK) {
      const res = await client.mget({ index, body: { ids: ids.slice(i, i + CHUNK) } });
      const docs = (res.body as { docs: Array<{ _id: string; found?: boolean; _source?: Record<string, unknown> }> }).docs;
      for (const d of docs) {
        if (!d.found || !d._source) continue;
        const w = d._source['w'];
        out.set(d._id, { version: String(d._source[VERSION_FIELD]), deleted: d._source[DELETED_FIELD] === true, w: typeof w === 'number' ? w : undefined });
      }
    }
    return out;
  } catch {
    return undefined;
  } finally {
    await client.close();
  }
}
