/**
 * How documents and deletes are stored in the index.
 *
 * A delete is never a hard delete: OpenSearch forgets a deleted document's version after
 * `index.gc_deletes` (60 s), after which an older upsert arriving late (replication lag, a replay
 * from the dead-letter topic) would bring the document back. Instead a delete is written like an
 * upsert, with the delete's external version, as a **tombstone**: a document whose only fields
 * are the bookkeeping fields below with `_georeplica_deleted: true`. Its version keeps every older
 * upsert out for good; a newer upsert replaces it.
 *
 * The bookkeeping fields start with "_": the event schema refuses top-level body fields starting
 * with "_" (docs/EVENTS.md), so they can never collide with a user's field. Searches must exclude
 * tombstones: use `liveDocumentsFilter()` / `onlyLiveDocuments(query)`.
 */
import type { DocumentEvent } from '../events/document-event.ts';

export const DELETED_FIELD = '_georeplica_deleted';
export const VERSION_FIELD = '_georeplica_version';
export const ORIGIN_FIELD = '_georeplica_origin';
export const TS_FIELD = '_georeplica_ts';

/** The `_source` written for an event: the body plus bookkeeping, or a tombstone for a delete. */
export function documentSource(event: Readonly<DocumentEvent>): Record<string, unknown> {
  const meta = { [VERSION_FIELD]: event.version, [ORIGIN_FIELD]: event.origin, [TS_FIELD]: event.ts };
  return event.op === 'delete' ? { [DELETED_FIELD]: true, ...meta } : { ...event.body, ...meta };
}

/** A filter clause (for `bool.filter`) that keeps only live documents, i.e. not tombstones. */
export function liveDocumentsFilter(): Record<string, unknown> {
  return { bool: { must_not: [{ term: { [DELETED_FIELD]: true } }] } };
}

/** Wraps a search query so that tombstones never match. */
export function onlyLiveDocuments(query: Record<string, unknown> = { match_all: {} }): Record<string, unknown> {
  return { bool: { must: [query], filter: [liveDocumentsFilter()] } };
}

/** Whether a stored `_source` is a tombstone. */
export function isTombstone(source: unknown): boolean {
  return typeof source === 'object' && source !== null && (source as Record<string, unknown>)[DELETED_FIELD] === true;
}
