/**
 * The search endpoint's query language: a small, safe subset of OpenSearch, validated at the
 * edge and translated here, so that no client can send a script, an aggregation bomb or a deep
 * page, and every mistake is a 400 that names the field and the rule.
 *
 *   GET  /search?q=&size=&from=
 *   POST /search { query?, fields?, match?, filters?, sort?, size?, from? }
 *
 * `query` is simple_query_string (its syntax cannot fail to parse: bad syntax degrades to
 * terms); `match` is one field's full-text match; `filters` are exact values (one, or any of a
 * list) per field; `sort` is by fields, then score. Field names are the documents' own: names
 * starting with "_" are the index's bookkeeping and are refused.
 */
import { z } from 'zod';
import { GeoError } from '../../core/errors.ts';
import { liveDocumentsFilter } from '../indexer/tombstone.ts';

export const MAX_SIZE = 100;
/** OpenSearch's index.max_result_window: deeper pages need search_after, which this API does not offer. */
export const MAX_WINDOW = 10_000;
const MAX_QUERY_CHARS = 1_000;

const FIELD_NAME = /^[A-Za-z0-9][A-Za-z0-9_.@-]{0,99}$/;
const fieldName = z.string().regex(FIELD_NAME, 'expected a document field name (letters, digits, "_", ".", "-", "@"; not starting with "_"; at most 100 characters)');
const scalar = z.union([z.string().max(1_000, 'expected a value of at most 1000 characters'), z.number(), z.boolean()], { error: 'expected a string, number or boolean' });
const intFrom = (name: string, min: number, max: number) =>
  z.number({ error: `expected ${name} to be an integer ${min}-${max}` }).int(`expected ${name} to be an integer`).min(min, `expected ${name} ≥ ${min}`).max(max, `expected ${name} ≤ ${max}`);

export const SearchBodySchema = z
  .strictObject({
    query: z.string().max(MAX_QUERY_CHARS, `expected a query of at most ${MAX_QUERY_CHARS} characters`).optional(),
    fields: z.array(fieldName).min(1, 'expected at least one field').max(20, 'expected at most 20 fields').optional(),
    match: z
      .record(fieldName, z.string().min(1, 'expected a non-empty text').max(MAX_QUERY_CHARS, `expected a text of at most ${MAX_QUERY_CHARS} characters`))
      .refine((m) => Object.keys(m).length === 1, 'expected exactly one field: { "<field>": "<text>" }')
      .optional(),
    filters: z
      .record(fieldName, z.union([scalar, z.array(scalar).min(1, 'expected at least one value').max(100, 'expected at most 100 values')], { error: 'expected an exact value (string, number or boolean) or a list of 1-100 of them' }))
      .refine((f) => Object.keys(f).length <= 20, 'expected at most 20 filters')
      .optional(),
    sort: z
      .array(z.strictObject({ field: fieldName, order: z.enum(['asc', 'desc'], { error: 'expected "asc" or "desc"' }).default('asc') }))
      .max(5, 'expected at most 5 sort fields')
      .optional(),
    size: intFrom('size', 0, MAX_SIZE).default(10),
    from: intFrom('from', 0, MAX_WINDOW).default(0),
  })
  .refine((b) => b.from + b.size <= MAX_WINDOW, { message: `expected from + size ≤ ${MAX_WINDOW}`, path: ['from'] });

export type SearchRequest = z.output<typeof SearchBodySchema>;

/** A query-string value as GET /search receives it. */
function intParam(raw: unknown): unknown {
  if (typeof raw !== 'string' || raw === '') return raw === '' ? undefined : raw;
  return /^-?\d+$/.test(raw) ? Number(raw) : raw;
}

/** Validates GET /search parameters; throws INVALID_ARGUMENT listing every problem. */
export function parseSearchParams(params: Readonly<Record<string, unknown>>): SearchRequest {
  const unknown = Object.keys(params).filter((k) => !['q', 'size', 'from'].includes(k));
  if (unknown.length > 0) {
    throw invalidQuery([{ path: unknown[0] ?? '', value: params[unknown[0] ?? ''], expected: 'expected one of the parameters q, size, from (POST /search takes fields, match, filters and sort)' }]);
  }
  for (const k of ['q', 'size', 'from']) {
    if (Array.isArray(params[k])) throw invalidQuery([{ path: k, value: params[k], expected: `${k} given once` }]);
  }
  const q = params['q'];
  const body: Record<string, unknown> = {};
  if (q !== undefined && q !== '') body['query'] = q;
  if (params['size'] !== undefined) body['size'] = intParam(params['size']);
  if (params['from'] !== undefined) body['from'] = intParam(params['from']);
  return parseSearchBody(body);
}

/** Validates a POST /search body; throws INVALID_ARGUMENT listing every problem. */
export function parseSearchBody(body: unknown): SearchRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw invalidQuery([{ path: '(body)', value: body === null ? null : Array.isArray(body) ? 'an array' : typeof body, expected: 'expected a JSON object such as {"query": "coffee", "size": 10}' }]);
  }
  const parsed = SearchBodySchema.safeParse(body);
  if (parsed.success) return parsed.data;
  const at = (path: readonly PropertyKey[]): unknown => path.reduce<unknown>((v, k) => (typeof v === 'object' && v !== null ? (v as Record<string, unknown>)[String(k)] : undefined), body);
  throw invalidQuery(
    parsed.error.issues.map((issue) => {
      if (issue.code === 'unrecognized_keys') {
        const key = issue.keys[0] ?? '';
        const path = [...issue.path.map(String), key].join('.');
        return { path, value: at([...issue.path, key]), expected: `no key ${issue.keys.map((k) => `"${k}"`).join(', ')}: allowed are ${allowedKeys(issue.path)}` };
      }
      // A bad key of a record (a field name) carries the key rule's own message one level down.
      const expected = issue.code === 'invalid_key' ? (issue.issues[0]?.message ?? issue.message) : issue.message;
      return { path: issue.path.map(String).join('.') || '(body)', value: at(issue.path), expected };
    }),
  );
}

function allowedKeys(path: readonly PropertyKey[]): string {
  return path[0] === 'sort' ? 'field, order' : 'query, fields, match, filters, sort, size, from';
}

export interface QueryProblem {
  path: string;
  value: unknown;
  expected: string;
}

export function invalidQuery(problems: readonly QueryProblem[]): GeoError {
  const lines = problems.map((p) => `  - ${p.path}: ${p.value === undefined && p.path.startsWith('(') ? '' : `got ${show(p.value)}; `}${p.expected}`);
  return new GeoError('INVALID_ARGUMENT', `Invalid search (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n${lines.join('\n')}`, { details: { problems } });
}

function show(value: unknown): string {
  if (value === undefined) return 'nothing';
  const text = JSON.stringify(value) ?? typeof value;
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}

/** How a field is mapped, as far as exact filters and sorting need to know. */
export type FieldKind = 'text-with-keyword' | 'text' | 'exact' | 'unmapped';

/**
 * The OpenSearch request body. `kindOf` says how each field is mapped: a dynamically mapped
 * string is `text` with a `.keyword` sub-field, and exact filters and sorts must use the latter.
 */
export function toOpenSearchBody(r: SearchRequest, kindOf: (field: string) => FieldKind): Record<string, unknown> {
  const must: Record<string, unknown>[] = [];
  if (r.query !== undefined && r.query.trim() !== '') {
    must.push({ simple_query_string: { query: r.query, ...(r.fields ? { fields: r.fields } : {}), default_operator: 'and', lenient: true } });
  }
  if (r.match) {
    const [field, text] = Object.entries(r.match)[0] ?? ['', ''];
    must.push({ match: { [field]: { query: text, lenient: true } } });
  }
  const filter: Record<string, unknown>[] = [liveDocumentsFilter()];
  for (const [field, value] of Object.entries(r.filters ?? {})) {
    const target = exactField(field, kindOf(field));
    filter.push(Array.isArray(value) ? { terms: { [target]: value } } : { term: { [target]: value } });
  }
  const sort = [
    ...(r.sort ?? []).map((s) => {
      const kind = kindOf(s.field);
      // A field no document has yet sorts as missing rather than failing the whole search.
      return { [exactField(s.field, kind)]: { order: s.order, ...(kind === 'unmapped' ? { unmapped_type: 'keyword' } : {}) } };
    }),
    '_score',
  ];
  return {
    query: { bool: { ...(must.length > 0 ? { must } : { must: [{ match_all: {} }] }), filter } },
    size: r.size,
    from: r.from,
    sort,
    track_total_hits: true,
    version: true,
  };
}

function exactField(field: string, kind: FieldKind): string {
  return kind === 'text-with-keyword' ? `${field}.keyword` : field;
}

/** Field kinds from an index mapping (`properties`, nested objects flattened with dots). */
export function fieldKinds(properties: Readonly<Record<string, unknown>>, prefix = '', out = new Map<string, FieldKind>()): Map<string, FieldKind> {
  for (const [name, raw] of Object.entries(properties)) {
    const m = raw as { type?: string; properties?: Record<string, unknown>; fields?: Record<string, { type?: string }> };
    const path = `${prefix}${name}`;
    if (m.properties) fieldKinds(m.properties, `${path}.`, out);
    if (m.type === 'text') out.set(path, m.fields?.['keyword']?.type === 'keyword' ? 'text-with-keyword' : 'text');
    else if (m.type !== undefined && m.type !== 'object' && m.type !== 'nested') out.set(path, 'exact');
  }
  return out;
}

/** Problems only the mapping reveals: sorting on full text without an exact sub-field. */
export function mappingProblems(r: SearchRequest, kindOf: (field: string) => FieldKind): QueryProblem[] {
  return (r.sort ?? []).flatMap((s, i) =>
    kindOf(s.field) === 'text' ? [{ path: `sort.${i}.field`, value: s.field, expected: `a field that can be sorted: "${s.field}" is full text without an exact (keyword) sub-field` }] : [],
  );
}
