/**
 * The document event: what a write becomes on a region's `documents` topic (keyed by the
 * document id), what the replicator copies and what every indexer applies. One schema, versioned
 * by its `schema` field; see docs/EVENTS.md for the field table, the rules and their messages.
 *
 * Problems are reported as the configuration's are ({ path, value, expected }, "expected ..."
 * wording), so the ingest API, the indexer's dead-letter reasons and the config loader read alike.
 * Decoding never throws on bad bytes: the indexer must be able to dead-letter any record.
 */
import { z } from 'zod';
import { describeValue, formatPath } from '../../config/problems.ts';
import { REGION_NAME } from '../../config/schema.ts';
import { GeoError } from '../../core/errors.ts';
import { deepFreeze } from '../../core/freeze.ts';
import { isVersionText, MAX_VERSION } from './hybrid-clock.ts';

/** The newest event schema this code writes and reads. */
export const CURRENT_SCHEMA = 1;

/** OpenSearch refuses ids over 512 bytes; ids are ASCII here, so 512 characters are 512 bytes. */
export const MAX_ID_LENGTH = 512;

/**
 * RFC 3986's unreserved characters plus ":" and "@": exactly what a URL path segment carries
 * without percent-encoding, so an id reads the same in Kafka keys, logs and `/_doc/<id>` URLs.
 */
const ID_CHAR = /[A-Za-z0-9._~:@-]/;
const ID_CHARS = /^[A-Za-z0-9._~:@-]*$/;
/** A letter or digit first keeps out ".", "..", "_"-names (OpenSearch endpoints) and option-like "-x". */
const ID_FIRST = /^[A-Za-z0-9]/;

/** Exactly what `Date#toISOString()` writes for years 0000-9999: UTC, milliseconds, "Z". */
const TS_FORMAT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

export interface EventLimits {
  /** Largest body, in UTF-8 bytes of `JSON.stringify(body)`. */
  readonly maxBodyBytes: number;
  /** Deepest nesting of objects and lists in a body, the body itself being level 1. */
  readonly maxBodyDepth: number;
}

export const DEFAULT_EVENT_LIMITS: Readonly<EventLimits> = Object.freeze({
  maxBodyBytes: 1024 * 1024,
  // Checking and encoding a body must never exhaust the stack; OpenSearch itself maps far
  // shallower objects (index.mapping.depth.limit, 20 by default).
  maxBodyDepth: 100,
});

/**
 * Bytes an event may have beyond its body limit: the envelope (id ≤ 512, version ≤ 19, region
 * ≤ 32, ts 24 and the keys) needs under 1 KiB. Anything larger is refused before it is parsed.
 */
export const ENVELOPE_ALLOWANCE_BYTES = 4096;

/** The most problems one report lists, so one absurd record cannot produce a megabyte of reasons. */
export const MAX_PROBLEMS = 50;

/** Longest value (string, or JSON of an object) quoted in a problem; longer ones are cut with "...". */
const MAX_SAMPLE_CHARS = 120;
/** The most problems one body walk reports (e.g. a list of 10 000 NaN). */
const MAX_BODY_VALUE_PROBLEMS = 10;

export type JsonValue = string | number | boolean | null | JsonValue[] | JsonObject;
export interface JsonObject {
  [key: string]: JsonValue;
}

interface EventEnvelope {
  readonly schema: typeof CURRENT_SCHEMA;
  readonly id: string;
  /** Decimal text of the 63-bit version (services/events/hybrid-clock.ts). */
  readonly version: string;
  /** The region where the write was accepted. */
  readonly origin: string;
  /** When it was accepted, as `Date#toISOString()` writes it; for people and lag metrics, never for ordering. */
  readonly ts: string;
}

export interface UpsertEvent extends EventEnvelope {
  readonly op: 'upsert';
  readonly body: JsonObject;
}

export interface DeleteEvent extends EventEnvelope {
  readonly op: 'delete';
}

export type DocumentEvent = UpsertEvent | DeleteEvent;

/** One thing wrong: where (e.g. "body.tags[2]"), what was there (shortened when long), and what would be right. */
export interface EventProblem {
  readonly path: string;
  readonly value: unknown;
  readonly expected: string;
}

export type EventFailureCode = 'EVENT_INVALID' | 'EVENT_SCHEMA_UNSUPPORTED';

export type DecodeResult =
  | { readonly ok: true; readonly event: Readonly<DocumentEvent> }
  | {
      readonly ok: false;
      /** EVENT_SCHEMA_UNSUPPORTED: a newer writer; the record becomes readable after an upgrade. EVENT_INVALID: never readable. */
      readonly code: EventFailureCode;
      readonly problems: readonly EventProblem[];
      /** The problems as text, for a dead-letter record's reason. */
      readonly reason: string;
    };

export interface DecodeOptions {
  limits?: Partial<EventLimits>;
}

// ---------------------------------------------------------------------------------------------
// Schema evolution

/** Turns the raw object of schema n into the raw object schema n + 1 would have written. */
export type Upcaster = (raw: Readonly<Record<string, unknown>>) => Record<string, unknown>;

export interface SchemaHistory {
  /** The newest schema: the one the validator checks and writers write. */
  readonly current: number;
  /** upcasters.get(n) turns schema n into n + 1; one for every n from 1 to current - 1. */
  readonly upcasters: ReadonlyMap<number, Upcaster>;
}

/**
 * How this code reads older events. Empty while schema 1 is the only one. A schema change adds
 * `[1, v1ToV2]` here, bumps `current` and CURRENT_SCHEMA, and changes the envelope below; readers
 * deployed first then accept both, writers deployed second start writing the new one.
 * An upcaster works on unvalidated input, so it must not throw: it passes what it does not
 * understand through, and the validator reports it afterwards.
 */
export const SCHEMA_HISTORY: SchemaHistory = Object.freeze({ current: CURRENT_SCHEMA, upcasters: new Map<number, Upcaster>() });

/** INTERNAL when a history has a gap: caught at import rather than on the first old record. */
export function checkSchemaHistory(history: SchemaHistory): void {
  for (let n = 1; n < history.current; n++) {
    if (!history.upcasters.has(n)) {
      throw new GeoError('INTERNAL', `The event schema history has no upcaster from schema ${n} to ${n + 1}.`, { details: { from: n, current: history.current } });
    }
  }
}

checkSchemaHistory(SCHEMA_HISTORY);

export type UpcastResult =
  | { readonly ok: true; readonly raw: Record<string, unknown> }
  | { readonly ok: false; readonly code: EventFailureCode; readonly problem: EventProblem };

/**
 * Brings a raw event (any object) up to `history.current`: schema n < current goes through
 * upcasters n, n + 1, ...; schema current is returned as is; a newer schema is
 * EVENT_SCHEMA_UNSUPPORTED; a missing or malformed one is EVENT_INVALID.
 */
export function upcast(raw: Readonly<Record<string, unknown>>, history: SchemaHistory = SCHEMA_HISTORY): UpcastResult {
  const schema = raw['schema'];
  if (typeof schema !== 'number' || !Number.isInteger(schema) || schema < 1) {
    return { ok: false, code: 'EVENT_INVALID', problem: problem(['schema'], schema, schemaExpected(history.current)) };
  }
  if (schema > history.current) {
    return {
      ok: false,
      code: 'EVENT_SCHEMA_UNSUPPORTED',
      problem: problem(['schema'], schema, `expected a schema version ≤ ${history.current}: this event was written by a newer version of georeplica; upgrade this reader`),
    };
  }
  let out: Record<string, unknown> = { ...raw };
  for (let n = schema; n < history.current; n++) {
    const step = history.upcasters.get(n);
    if (step === undefined) throw new GeoError('INTERNAL', `No upcaster from event schema ${n} to ${n + 1}.`, { details: { from: n } });
    // The loop, not each upcaster, stamps the schema, so no upcaster can forget to.
    out = { ...step(out), schema: n + 1 };
  }
  return { ok: true, raw: out };
}

// ---------------------------------------------------------------------------------------------
// The current schema (1)

const EXPECTED = {
  op: 'expected op: "upsert" or "delete"',
  version: `expected a version: the decimal text of an integer from 1 to ${MAX_VERSION}, e.g. "1234567890"`,
  origin: 'expected a region name: lowercase letters, digits and dashes, e.g. "us-east"',
  ts: 'expected a UTC timestamp as Date#toISOString() writes it, e.g. "2025-06-01T12:00:00.000Z"',
  root: 'expected a document event: a JSON object',
} as const;

const FIELDS = ['schema', 'id', 'op', 'version', 'origin', 'ts', 'body'] as const;

/**
 * The envelope. `schema` is checked before (it decides the upcasting) and `body` after (its rules
 * depend on `op` and on limits); both are listed here so that strictObject knows every key.
 */
const EnvelopeSchema = z.strictObject({
  schema: z.unknown().optional(),
  id: z.unknown().superRefine((value, ctx) => {
    const broken = idRule(value);
    if (broken !== undefined) ctx.addIssue({ code: 'custom', message: broken });
  }),
  op: z.enum(['upsert', 'delete'], { error: EXPECTED.op }),
  version: z.string({ error: EXPECTED.version }).refine(isVersionText, EXPECTED.version),
  origin: z.string({ error: EXPECTED.origin }).regex(REGION_NAME, EXPECTED.origin),
  ts: z.string({ error: EXPECTED.ts }).refine(isEventTime, EXPECTED.ts),
  body: z.unknown().optional(),
});

/**
 * Validates and serialises an event for the `documents` topic. Keys are written in one fixed
 * order, so the same event always yields the same bytes. EVENT_INVALID (with `details.problems`)
 * when the event breaks a rule: by then the ingest API has validated its input, so this is a bug.
 */
export function encodeEvent(event: DocumentEvent, limits: Partial<EventLimits> = {}): Buffer {
  const resolved = resolveLimits(limits);
  // A writer writes the current schema only: upcasting is for reading what older writers left.
  const schemaProblems = (event as { schema: unknown }).schema === CURRENT_SCHEMA ? [] : [problem(['schema'], (event as { schema: unknown }).schema, schemaExpected(CURRENT_SCHEMA, true))];
  const checked = checkCurrent(event as unknown as Record<string, unknown>, resolved);
  const all = [...schemaProblems, ...(checked.ok ? [] : checked.problems)];
  if (all.length > 0) {
    const problems = capProblems(all);
    throw new GeoError('EVENT_INVALID', formatEventProblems('Invalid document event', problems, all.length), { details: { problems } });
  }
  return Buffer.from(JSON.stringify(canonical(event)), 'utf8');
}

/** Reads a record value from the `documents` topic. Never throws on bad input; a failure names every problem found. */
export function decodeEvent(bytes: Uint8Array, options: DecodeOptions = {}): DecodeResult {
  const limits = resolveLimits(options.limits ?? {});
  const maxBytes = limits.maxBodyBytes + ENVELOPE_ALLOWANCE_BYTES;
  if (bytes.length > maxBytes) {
    return failure('EVENT_INVALID', [problem([], bytes.length, `expected an event of at most ${maxBytes} bytes (the body limit plus ${ENVELOPE_ALLOWANCE_BYTES} bytes of envelope)`)]);
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return failure('EVENT_INVALID', [problem([], Buffer.from(bytes).toString('utf8'), 'expected UTF-8 text')]);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return failure('EVENT_INVALID', [problem([], text, 'expected JSON text (a document event)')]);
  }
  if (!isPlainObject(raw)) return failure('EVENT_INVALID', [problem([], raw, EXPECTED.root)]);

  const lifted = upcast(raw);
  if (!lifted.ok) {
    // A newer schema is reported alone: checking its other fields against an older schema would
    // only add noise. A broken schema field is reported along with everything else.
    if (lifted.code === 'EVENT_SCHEMA_UNSUPPORTED') return failure(lifted.code, [lifted.problem]);
    const rest = checkCurrent(raw, limits);
    return failure('EVENT_INVALID', [lifted.problem, ...(rest.ok ? [] : rest.problems)]);
  }
  const checked = checkCurrent(lifted.raw, limits);
  return checked.ok ? { ok: true, event: deepFreeze(checked.event) } : failure('EVENT_INVALID', checked.problems);
}

/**
 * Checks what a client sends the ingest API to upsert a document: the id (from the URL) and the
 * body. Returns every problem, in the event's shape, with paths "id" and "body..."; empty when valid.
 */
export function validateDocumentInput(id: unknown, body: unknown, limits: Partial<EventLimits> = {}): readonly EventProblem[] {
  const resolved = resolveLimits(limits);
  const problems: EventProblem[] = [];
  const broken = idRule(id);
  if (broken !== undefined) problems.push(problem(['id'], id, broken));
  problems.push(...bodyProblems('upsert', body, resolved));
  return Object.freeze(capProblems(problems));
}

/**
 * Problems as the lines of a message: a head line, then "  - path: got value; expected ...".
 * `total` is how many were found when `problems` is a capped list of them.
 */
export function formatEventProblems(subject: string, problems: readonly EventProblem[], total = problems.length): string {
  const count = `${total} problem${total === 1 ? '' : 's'}${total > problems.length ? `, the first ${problems.length} listed` : ''}`;
  return [`${subject} (${count}):`, ...problems.map((p) => `  - ${p.path}: got ${describeValue(p.value)}; ${p.expected}`)].join('\n');
}

// ---------------------------------------------------------------------------------------------
// Rules

type Checked = { ok: true; event: DocumentEvent } | { ok: false; problems: EventProblem[] };

/** Validates an object that claims to be of the current schema; `schema` itself is the caller's job. */
function checkCurrent(raw: Record<string, unknown>, limits: EventLimits): Checked {
  const problems: EventProblem[] = [];
  const parsed = EnvelopeSchema.safeParse(raw);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      if (issue.code === 'unrecognized_keys') {
        for (const key of issue.keys) problems.push(problem([key], key, `expected no such field; the fields are ${FIELDS.join(', ')}`));
      } else {
        problems.push(problem(issue.path, valueAt(raw, issue.path), issue.message));
      }
    }
  }
  const op = raw['op'];
  if (op === 'upsert' || op === 'delete') problems.push(...bodyProblems(op, raw['body'], limits));
  else if (raw['body'] !== undefined) problems.push(...bodyProblems(undefined, raw['body'], limits));
  if (problems.length > 0) return { ok: false, problems: sortByField(problems) };
  return { ok: true, event: canonical(raw as unknown as DocumentEvent) };
}

/** The reason an id is refused, or undefined for a good id. */
function idRule(id: unknown): string | undefined {
  if (typeof id !== 'string') return `expected a document id: a string of 1-${MAX_ID_LENGTH} characters`;
  if (id.length === 0) return 'expected a non-empty document id';
  if (id.length > MAX_ID_LENGTH) return `expected a document id of at most ${MAX_ID_LENGTH} characters (got ${id.length})`;
  if (!ID_FIRST.test(id)) return 'expected a document id starting with a letter or digit';
  if (!ID_CHARS.test(id)) {
    const at = [...id].findIndex((c) => !ID_CHAR.test(c));
    const bad = [...id][at] ?? '';
    return `expected a document id of only A-Z a-z 0-9 and - . _ ~ : @ (found ${JSON.stringify(bad)} at position ${at})`;
  }
  return undefined;
}

/** Body rules: present exactly for upserts, a plain JSON object, no "_" top-level fields, within the limits. */
function bodyProblems(op: 'upsert' | 'delete' | undefined, body: unknown, limits: EventLimits): EventProblem[] {
  if (body === undefined) return op === 'upsert' ? [problem(['body'], body, 'expected a body (a JSON object) for op "upsert"')] : [];
  if (op === 'delete') return [problem(['body'], body, 'expected no body for op "delete"')];
  if (!isPlainObject(body)) return [problem(['body'], body, 'expected a JSON object (not a list, null, string, number or boolean)')];

  const problems: EventProblem[] = [];
  for (const key of Object.keys(body)) {
    if (key.startsWith('_')) problems.push(problem(['body', key], key, 'expected no top-level field starting with "_": those names are reserved for OpenSearch metadata (_id, _source, ...)'));
  }
  problems.push(...valueProblems(body, limits.maxBodyDepth));
  // Measured only on a body known to be plain JSON: stringify would throw on a bigint or a cycle.
  if (problems.length === 0) {
    const bytes = Buffer.byteLength(JSON.stringify(body), 'utf8');
    if (bytes > limits.maxBodyBytes) problems.push(problem(['body'], bytes, `expected at most ${limits.maxBodyBytes} bytes once encoded as JSON`));
  }
  return problems;
}

/**
 * Every value in the body must survive JSON unchanged: strings, finite numbers, booleans, null,
 * lists and plain objects. Walked with an explicit stack so that depth costs no call stack.
 */
function valueProblems(body: Record<string, unknown>, maxDepth: number): EventProblem[] {
  const problems: EventProblem[] = [];
  const stack: Array<{ value: unknown; path: PropertyKey[]; depth: number }> = [{ value: body, path: ['body'], depth: 1 }];
  while (stack.length > 0 && problems.length < MAX_BODY_VALUE_PROBLEMS) {
    const { value, path, depth } = stack.pop() as { value: unknown; path: PropertyKey[]; depth: number };
    if (value === null || typeof value === 'string' || typeof value === 'boolean') continue;
    if (typeof value === 'number') {
      if (!Number.isFinite(value)) problems.push(problem(path, value, 'expected a finite number (JSON has no NaN or Infinity)'));
      continue;
    }
    const isList = Array.isArray(value);
    if (!isList && !isPlainObject(value)) {
      problems.push(problem(path, value, 'expected a JSON value: a string, finite number, true, false, null, list or object'));
      continue;
    }
    if (depth > maxDepth) {
      problems.push(problem(path, value, `expected at most ${maxDepth} levels of nesting (objects and lists)`));
      continue;
    }
    // Pushed in reverse so that problems come out in document order.
    if (isList) {
      for (let i = value.length - 1; i >= 0; i--) stack.push({ value: value[i] as unknown, path: [...path, i], depth: depth + 1 });
    } else {
      const keys = Object.keys(value);
      for (let i = keys.length - 1; i >= 0; i--) {
        const key = keys[i] as string;
        stack.push({ value: value[key], path: [...path, key], depth: depth + 1 });
      }
    }
  }
  return problems;
}

function isEventTime(ts: string): boolean {
  if (!TS_FORMAT.test(ts)) return false;
  const ms = Date.parse(ts);
  // The round trip refuses dates the format admits but the calendar does not, e.g. February 30.
  return !Number.isNaN(ms) && new Date(ms).toISOString() === ts;
}

function schemaExpected(current: number, writing = false): string {
  if (writing) return `expected schema: ${current} (writers always write the current schema)`;
  return current === 1 ? 'expected schema: 1' : `expected a schema version: an integer from 1 to ${current}`;
}

// ---------------------------------------------------------------------------------------------
// Helpers

/** Only objects made by JSON.parse or literals: a Date, Map or class instance would not survive JSON as itself. */
function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/** The event with its keys in the documented order; `body` only when present. */
function canonical(event: DocumentEvent): DocumentEvent {
  const { schema, id, op, version, origin, ts } = event;
  if (event.op === 'upsert') return { schema, id, op: 'upsert', version, origin, ts, body: event.body };
  return { schema, id, op, version, origin, ts } as DeleteEvent;
}

function resolveLimits(limits: Partial<EventLimits>): EventLimits {
  const out = { ...DEFAULT_EVENT_LIMITS, ...limits };
  for (const [name, value] of Object.entries(out)) {
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new GeoError('INVALID_ARGUMENT', `Invalid event limit ${name}: got ${String(value)}; expected a positive integer.`, { details: { field: name, value } });
    }
  }
  return out;
}

function problem(path: readonly PropertyKey[], value: unknown, expected: string): EventProblem {
  return Object.freeze({ path: formatPath(path), value: sample(value), expected });
}

function failure(code: EventFailureCode, problems: EventProblem[]): DecodeResult {
  const capped = Object.freeze(capProblems(problems));
  const subject = code === 'EVENT_SCHEMA_UNSUPPORTED' ? 'Unsupported document event' : 'Invalid document event';
  return { ok: false, code, problems: capped, reason: formatEventProblems(subject, capped, problems.length) };
}

function capProblems(problems: EventProblem[]): EventProblem[] {
  return problems.length > MAX_PROBLEMS ? problems.slice(0, MAX_PROBLEMS) : problems;
}

/** Problems in the order of the field table, unknown fields last, so reports read top to bottom. */
function sortByField(problems: EventProblem[]): EventProblem[] {
  const rank = (p: EventProblem): number => {
    const head = /^[^.[]*/.exec(p.path)?.[0] ?? '';
    const i = (FIELDS as readonly string[]).indexOf(head);
    return i < 0 ? FIELDS.length : i;
  };
  return problems.map((p, i) => ({ p, i })).sort((a, b) => rank(a.p) - rank(b.p) || a.i - b.i).map(({ p }) => p);
}

function valueAt(raw: Record<string, unknown>, path: readonly PropertyKey[]): unknown {
  let node: unknown = raw;
  for (const key of path) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<PropertyKey, unknown>)[key];
  }
  return node;
}

/**
 * A value short enough to quote in a problem (problems end up in dead-letter headers, logs and
 * HTTP answers): long strings and large objects are cut, values JSON cannot carry are named.
 */
function sample(value: unknown): unknown {
  switch (typeof value) {
    case 'string':
      return value.length > MAX_SAMPLE_CHARS ? `${value.slice(0, MAX_SAMPLE_CHARS - 3)}...` : value;
    case 'bigint':
      return `${value}n`;
    case 'function':
      return 'a function';
    case 'symbol':
      return 'a symbol';
    case 'object': {
      if (value === null) return null;
      let json: string | undefined;
      try {
        json = JSON.stringify(value);
      } catch {
        return Array.isArray(value) ? 'a list that JSON cannot encode' : 'an object that JSON cannot encode';
      }
      return json.length > MAX_SAMPLE_CHARS ? `${json.slice(0, MAX_SAMPLE_CHARS - 3)}...` : value;
    }
    default:
      return value;
  }
}
