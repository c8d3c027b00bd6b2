import { describe, expect, it } from 'vitest';
import { GeoError } from '../../../core/errors.ts';
import type { FieldKind } from '../../../services/search/search-query.ts';
import { fieldKinds, mappingProblems, parseSearchBody, parseSearchParams, toOpenSearchBody } from '../../../services/search/search-query.ts';

function problemsOf(fn: () => unknown): Array<{ path: string; expected: string }> {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(GeoError);
    const e = err as GeoError;
    expect(e.code).toBe('INVALID_ARGUMENT');
    expect(e.retriable).toBe(false);
    return (e.details['problems'] as Array<{ path: string; expected: string }>).map((p) => ({ path: p.path, expected: p.expected }));
  }
  throw new Error('expected a refusal');
}

const kinds = new Map<string, FieldKind>([
  ['title', 'text-with-keyword'],
  ['body', 'text'],
  ['price', 'exact'],
]);
const kindOf = (f: string): FieldKind => kinds.get(f) ?? 'unmapped';

describe('GET /search parameters', () => {
  it('defaults size 10 and from 0, and treats an empty q as match-all', () => {
    expect(parseSearchParams({})).toEqual({ size: 10, from: 0 });
    expect(parseSearchParams({ q: '' })).toEqual({ size: 10, from: 0 });
    expect(parseSearchParams({ q: 'espresso', size: '5', from: '20' })).toEqual({ query: 'espresso', size: 5, from: 20 });
  });

  it.each([
    [{ size: '101' }, 'size', 'expected size ≤ 100'],
    [{ size: '-1' }, 'size', 'expected size ≥ 0'],
    [{ size: 'ten' }, 'size', 'expected size to be an integer 0-100'],
    [{ size: '2.5' }, 'size', 'expected size to be an integer 0-100'],
    [{ from: '9950', size: '100' }, 'from', 'expected from + size ≤ 10000'],
    [{ from: '10001' }, 'from', 'expected from ≤ 10000'],
    [{ q: 'x'.repeat(1001) }, 'query', 'expected a query of at most 1000 characters'],
    [{ sort: 'title' }, 'sort', 'expected one of the parameters q, size, from (POST /search takes fields, match, filters and sort)'],
    [{ q: ['a', 'b'] }, 'q', 'q given once'],
  ])('refuses %j naming %s', (params, path, expected) => {
    expect(problemsOf(() => parseSearchParams(params))).toContainEqual({ path, expected });
  });
});

describe('POST /search body', () => {
  it('accepts the whole language', () => {
    const r = parseSearchBody({ query: 'dark roast', fields: ['title'], match: { body: 'smooth' }, filters: { price: [3, 4], title: 'Kenya AA' }, sort: [{ field: 'price', order: 'desc' }], size: 20, from: 40 });
    expect(r.sort).toEqual([{ field: 'price', order: 'desc' }]);
  });

  it.each([
    [[], '(body)', 'expected a JSON object such as {"query": "coffee", "size": 10}'],
    ['text', '(body)', 'expected a JSON object such as {"query": "coffee", "size": 10}'],
    [{ script: 'x' }, 'script', 'no key "script": allowed are query, fields, match, filters, sort, size, from'],
    [{ size: 500 }, 'size', 'expected size ≤ 100'],
    [{ query: 42 }, 'query', 'Invalid input: expected string, received number'],
    [{ fields: ['_georeplica_deleted'] }, 'fields.0', 'expected a document field name (letters, digits, "_", ".", "-", "@"; not starting with "_"; at most 100 characters)'],
    [{ match: { a: 'x', b: 'y' } }, 'match', 'expected exactly one field: { "<field>": "<text>" }'],
    [{ filters: { price: { gt: 3 } } }, 'filters.price', 'expected an exact value (string, number or boolean) or a list of 1-100 of them'],
    [{ filters: { tag: [] } }, 'filters.tag', 'expected at least one value'],
    [{ sort: [{ field: 'price', order: 'up' }] }, 'sort.0.order', 'expected "asc" or "desc"'],
    [{ sort: [{ field: 'price', direction: 'asc' }] }, 'sort.0.direction', 'no key "direction": allowed are field, order'],
    [{ filters: { _georeplica_deleted: true } }, 'filters._georeplica_deleted', 'expected a document field name (letters, digits, "_", ".", "-", "@"; not starting with "_"; at most 100 characters)'],
  ])('refuses %j naming %s', (body, path, expected) => {
    const problems = problemsOf(() => parseSearchBody(body));
    expect(problems.map((p) => p.path)).toContain(path);
    expect(problems.find((p) => p.path === path)?.expected).toContain(expected);
  });

  it('lists every problem at once', () => {
    expect(problemsOf(() => parseSearchBody({ size: 1000, from: -5, query: 7 })).map((p) => p.path).sort()).toEqual(['from', 'query', 'size']);
  });

  it('refuses sorting on full text that has no exact sub-field', () => {
    const r = parseSearchBody({ sort: [{ field: 'body' }, { field: 'title' }] });
    expect(mappingProblems(r, kindOf)).toEqual([{ path: 'sort.0.field', value: 'body', expected: 'a field that can be sorted: "body" is full text without an exact (keyword) sub-field' }]);
  });
});

describe('translation to OpenSearch', () => {
  it('always excludes tombstones and uses the keyword sub-field for exact filters and sorts on strings', () => {
    const body = toOpenSearchBody(parseSearchBody({ query: 'kenya', filters: { title: 'Kenya AA', price: [3, 4] }, sort: [{ field: 'title' }, { field: 'missing', order: 'desc' }] }), kindOf);
    expect(body).toEqual({
      query: {
        bool: {
          must: [{ simple_query_string: { query: 'kenya', default_operator: 'and', lenient: true } }],
          filter: [{ bool: { must_not: [{ term: { _georeplica_deleted: true } }] } }, { term: { 'title.keyword': 'Kenya AA' } }, { terms: { price: [3, 4] } }],
        },
      },
      size: 10,
      from: 0,
      sort: [{ 'title.keyword': { order: 'asc' } }, { missing: { order: 'desc', unmapped_type: 'keyword' } }, '_score'],
      track_total_hits: true,
      version: true,
    });
  });

  it('matches everything live when there is no query', () => {
    const body = toOpenSearchBody(parseSearchBody({}), kindOf) as { query: { bool: { must: unknown[] } } };
    expect(body.query.bool.must).toEqual([{ match_all: {} }]);
  });

  it('reads field kinds from a dynamic mapping, nested objects included', () => {
    const k = fieldKinds({
      title: { type: 'text', fields: { keyword: { type: 'keyword', ignore_above: 256 } } },
      body: { type: 'text' },
      price: { type: 'long' },
      origin: { properties: { city: { type: 'text', fields: { keyword: { type: 'keyword' } } }, lat: { type: 'float' } } },
    });
    expect(Object.fromEntries(k)).toEqual({ title: 'text-with-keyword', body: 'text', price: 'exact', 'origin.city': 'text-with-keyword', 'origin.lat': 'exact' });
  });
});
