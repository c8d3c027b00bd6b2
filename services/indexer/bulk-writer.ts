/**
 * One bulk request's worth of events, written with external versions. Per item:
 * 200/201 → indexed; 409 (a version as new or newer is stored) → stale, which is success;
 * 429/5xx → retried with backoff (only those items); any other refusal (400
 * mapper_parsing_exception, ...) → rejected, for the dead-letter topic. A request that fails as
 * a whole (unreachable, 429, 5xx) is retried too; when the retry policy gives up, `write` throws
 * a retriable SEARCH_UNAVAILABLE and the caller decides (the indexer pauses and keeps trying).
 */
import type { Client } from '@opensearch-project/opensearch';
import { GeoError } from '../../core/errors.ts';
import type { Logger } from '../../core/logger.ts';
import type { RetryPolicy } from '../../core/retry.ts';
import { withRetry } from '../../core/retry.ts';
import type { DocumentEvent } from '../events/document-event.ts';
import type { SourceRecord } from './dead-letter.ts';
import type { IndexerMetrics } from './metrics.ts';
import { isRetriableStatus, searchError } from './search-errors.ts';
import { documentSource } from './tombstone.ts';

export interface BulkItem {
  event: Readonly<DocumentEvent>;
  record: SourceRecord;
  /** The two NDJSON lines (action and source), already serialised. */
  lines: string;
  bytes: number;
}

export type ItemOutcome = { kind: 'indexed' } | { kind: 'stale' } | { kind: 'rejected'; reason: string };

export function bulkItem(event: Readonly<DocumentEvent>, record: SourceRecord, alias: string): BulkItem {
  const action = JSON.stringify({ index: { _index: alias, _id: event.id, version: event.version, version_type: 'external' } });
  const lines = `${action}\n${JSON.stringify(documentSource(event))}\n`;
  return { event, record, lines, bytes: Buffer.byteLength(lines) };
}

interface BulkResponseItem {
  status: number;
  error?: { type?: string; reason?: string; caused_by?: { type?: string; reason?: string } };
}

export class BulkWriter {
  constructor(private readonly o: { client: Client; retry: RetryPolicy; metrics: IndexerMetrics; log: Logger; signal: AbortSignal }) {}

  async write(items: readonly BulkItem[]): Promise<ItemOutcome[]> {
    const outcomes: Array<ItemOutcome | undefined> = new Array<ItemOutcome | undefined>(items.length);
    let pending = items.map((_, i) => i);
    await withRetry(
      async () => {
        const t0 = Date.now();
        let body: { errors?: boolean; items?: Array<Record<string, BulkResponseItem>> };
        try {
          // The NDJSON is built once per item; the client sends a string body as it is.
          const res = await this.o.client.bulk({ body: pending.map((i) => (items[i] as BulkItem).lines).join('') as unknown as never });
          body = res.body;
        } catch (err) {
          throw searchError(err, `bulk of ${pending.length} item(s)`);
        } finally {
          this.o.metrics.bulkSeconds.observe((Date.now() - t0) / 1000);
        }
        const answered = body.items ?? [];
        if (answered.length !== pending.length) throw new GeoError('SEARCH_UNAVAILABLE', `bulk answered ${answered.length} item(s) for ${pending.length}`, { retriable: true });
        const again: number[] = [];
        let firstRetryReason = '';
        answered.forEach((entry, j) => {
          const i = pending[j] as number;
          const r = Object.values(entry)[0] as BulkResponseItem;
          if (r.status >= 200 && r.status < 300) outcomes[i] = { kind: 'indexed' };
          else if (r.status === 409) outcomes[i] = { kind: 'stale' };
          else if (isRetriableStatus(r.status)) {
            again.push(i);
            firstRetryReason ||= `${r.status} ${r.error?.type ?? ''}`;
          } else outcomes[i] = { kind: 'rejected', reason: describe(r) };
        });
        pending = again;
        if (pending.length > 0) throw new GeoError('SEARCH_UNAVAILABLE', `bulk: ${pending.length} item(s) to retry (${firstRetryReason})`, { retriable: true });
      },
      this.o.retry,
      {
        signal: this.o.signal,
        onRetry: (err, attempt, delayMs) => {
          this.o.metrics.bulks.inc({ outcome: 'retried' });
          this.o.log.warn({ err: (err as Error).message, attempt, delayMs }, 'bulk retry');
        },
      },
    ).catch((err: unknown) => {
      this.o.metrics.bulks.inc({ outcome: 'failed' });
      throw err;
    });
    this.o.metrics.bulks.inc({ outcome: 'ok' });
    return outcomes as ItemOutcome[];
  }
}

function describe(r: BulkResponseItem): string {
  const e = r.error;
  if (!e) return `OpenSearch refused the document with status ${r.status}`;
  const cause = e.caused_by ? ` (caused by ${e.caused_by.type ?? '?'}: ${e.caused_by.reason ?? ''})` : '';
  return `OpenSearch refused the document with status ${r.status}: ${e.type ?? 'error'}: ${e.reason ?? ''}${cause}`;
}
