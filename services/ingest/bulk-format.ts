/**
 * The bulk format of `POST /documents/_bulk` (Content-Type `application/x-ndjson`): one action
 * per line, each a JSON object with exactly these fields:
 *
 *   {"op":"upsert","id":"sku-1","body":{"title":"Blue kettle"}}
 *   {"op":"delete","id":"sku-2"}
 *
 * - `op`: "upsert" or "delete";
 * - `id`: the document id (always given, so that a retried bulk writes the same documents);
 * - `body`: the document for "upsert" (the same rules as PUT /documents/:id), absent for "delete".
 *
 * Lines are separated by "\n" ("\r\n" is accepted); blank lines are skipped. Lines are numbered
 * from 1 as they appear in the request, blank ones included, and every result names its line.
 * A bad line is refused alone: the others are still written.
 */
import type { GeoError } from '../../core/errors.ts';
import { validateDocumentInput } from '../events/document-event.ts';
import type { EventLimits, EventProblem, JsonObject } from '../events/document-event.ts';
import { invalidDocument, invalidRequest, problemAt } from './request-refusal.ts';

/** The most action lines one bulk request may hold. */
export const MAX_BULK_LINES = 10_000;

const LINE_FIELDS = ['op', 'id', 'body'] as const;
const EXAMPLE = '{"op":"upsert","id":"a","body":{...}} or {"op":"delete","id":"b"}';

export type BulkAction = { readonly line: number; readonly op: 'upsert'; readonly id: string; readonly body: JsonObject } | { readonly line: number; readonly op: 'delete'; readonly id: string };

export type BulkLine =
  | { readonly ok: true; readonly action: BulkAction }
  | { readonly ok: false; readonly line: number; readonly op?: string; readonly id?: string; readonly error: GeoError };

/**
 * Splits and checks a bulk body. Throws INVALID_ARGUMENT only for what concerns the request as a
 * whole (no action at all, too many lines); a bad line becomes a failed BulkLine.
 */
export function parseBulk(text: string, limits: Partial<EventLimits> = {}): BulkLine[] {
  const raw = text.split('\n');
  const out: BulkLine[] = [];
  for (let i = 0; i < raw.length; i++) {
    const line = (raw[i] ?? '').replace(/\r$/, '');
    if (line.trim() === '') continue;
    if (out.length === MAX_BULK_LINES) {
      throw invalidRequest([problemAt('body', `${countActionLines(raw)} action lines`, `expected at most ${MAX_BULK_LINES} action lines per bulk request; split it`)]);
    }
    out.push(parseLine(line, i + 1, limits));
  }
  if (out.length === 0) throw invalidRequest([problemAt('body', text, `expected at least one action line, e.g. ${EXAMPLE}`)]);
  return out;
}

function parseLine(text: string, line: number, limits: Partial<EventLimits>): BulkLine {
  const refuse = (problems: readonly EventProblem[], known: { op?: string; id?: string } = {}): BulkLine => ({ ok: false, line, ...known, error: invalidDocument(problems, `Invalid bulk line ${line}`) });
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    return refuse([problemAt('(line)', text, `expected one JSON object per line, e.g. ${EXAMPLE} (${(err as Error).message})`)]);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return refuse([problemAt('(line)', parsed, `expected a JSON object, e.g. ${EXAMPLE}`)]);
  const o = parsed as Record<string, unknown>;
  const op = o['op'];
  const id = o['id'];
  const known = { ...(typeof op === 'string' ? { op } : {}), ...(typeof id === 'string' ? { id } : {}) };
  const problems: EventProblem[] = [];
  if (op !== 'upsert' && op !== 'delete') problems.push(problemAt('op', op, 'expected op: "upsert" or "delete"'));
  if (op === 'delete') {
    // Only the id rule applies to a delete: an empty object stands in for the absent body.
    problems.push(...validateDocumentInput(id, {}, limits));
    if (o['body'] !== undefined) problems.push(problemAt('body', o['body'], 'expected no body for op "delete"'));
  } else {
    problems.push(...validateDocumentInput(id, o['body'], limits).filter((p) => op === 'upsert' || p.path === 'id'));
  }
  for (const key of Object.keys(o)) {
    if (!(LINE_FIELDS as readonly string[]).includes(key)) problems.push(problemAt(key, key, `expected no such field; the fields are ${LINE_FIELDS.join(', ')}`));
  }
  if (problems.length > 0) return refuse(problems, known);
  const action: BulkAction = op === 'delete' ? { line, op, id: id as string } : { line, op: 'upsert', id: id as string, body: o['body'] as JsonObject };
  return { ok: true, action };
}

function countActionLines(raw: readonly string[]): number {
  return raw.filter((l) => l.trim() !== '').length;
}
