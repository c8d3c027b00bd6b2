import { describe, expect, it } from 'vitest';
import {
  checkSchemaHistory,
  CURRENT_SCHEMA,
  decodeEvent,
  DEFAULT_EVENT_LIMITS,
  encodeEvent,
  ENVELOPE_ALLOWANCE_BYTES,
  formatEventProblems,
  MAX_PROBLEMS,
  SCHEMA_HISTORY,
  upcast,
  validateDocumentInput,
} from '../../../services/events/document-event.ts';
import type { DecodeResult, DocumentEvent, EventProblem, JsonObject, SchemaHistory, Upcaster } from '../../../services/events/document-event.ts';
import { decodeVersion, encodeVersion } from '../../../services/events/hybrid-clock.ts';
import { thrown } from '../../support/errors.ts';

type Raw = Record<string, unknown>;

// us-east (region index 2), 2026-03-01T12:00:00.000Z, logical 0.
const VERSION = '19229206118400002';
const TS = '2026-03-01T12:00:00.000Z';

function upsert(overrides: Raw = {}): Raw {
  return { schema: 1, id: 'doc-1', op: 'upsert', version: VERSION, origin: 'us-east', ts: TS, body: { title: 'Hello' }, ...overrides };
}

function del(overrides: Raw = {}): Raw {
  return { schema: 1, id: 'doc-1', op: 'delete', version: VERSION, origin: 'us-east', ts: TS, ...overrides };
}

function without(raw: Raw, ...keys: string[]): Raw {
  const out = { ...raw };
  for (const k of keys) delete out[k];
  return out;
}

function decodeJson(raw: unknown): DecodeResult {
  return decodeEvent(Buffer.from(JSON.stringify(raw), 'utf8'));
}

function failureOf(result: DecodeResult): Extract<DecodeResult, { ok: false }> {
  if (result.ok) throw new Error(`expected a failure, got ${JSON.stringify(result.event)}`);
  return result;
}

/** Problems as [path, value, expected] rows: a table reads better than objects. */
function rows(problems: readonly EventProblem[]): Array<[string, unknown, string]> {
  return problems.map((p) => [p.path, p.value, p.expected]);
}

/** A body nested `depth` levels deep ({} is level 1). */
function nested(depth: number): JsonObject {
  let body: JsonObject = {};
  for (let i = 1; i < depth; i++) body = { a: body };
  return body;
}

const M = {
  schema: 'expected schema: 1',
  idType: 'expected a document id: a string of 1-512 characters',
  op: 'expected op: "upsert" or "delete"',
  version: 'expected a version: the decimal text of an integer from 1 to 9223372036854775807, e.g. "1234567890"',
  origin: 'expected a region name: lowercase letters, digits and dashes, e.g. "us-east"',
  ts: 'expected a UTC timestamp as Date#toISOString() writes it, e.g. "2025-06-01T12:00:00.000Z"',
  unknown: 'expected no such field; the fields are schema, id, op, version, origin, ts, body',
  bodyMissing: 'expected a body (a JSON object) for op "upsert"',
  bodyOnDelete: 'expected no body for op "delete"',
  bodyType: 'expected a JSON object (not a list, null, string, number or boolean)',
  reserved: 'expected no top-level field starting with "_": those names are reserved for OpenSearch metadata (_id, _source, ...)',
  root: 'expected a document event: a JSON object',
  jsonValue: 'expected a JSON value: a string, finite number, true, false, null, list or object',
  finite: 'expected a finite number (JSON has no NaN or Infinity)',
} as const;

describe('encodeEvent and decodeEvent', () => {
  it('round-trip an upsert and a delete', () => {
    const events: DocumentEvent[] = [
      { schema: 1, id: 'sku:42@shop~v2', op: 'upsert', version: VERSION, origin: 'us-east', ts: TS, body: { title: 'Grüße 🌍', price: 9.5, tags: ['a', 'b'], stock: null, meta: { ok: true } } },
      { schema: 1, id: 'doc-1', op: 'delete', version: '1', origin: 'ap-southeast', ts: '2025-01-01T00:00:00.000Z' },
    ];
    for (const event of events) {
      const bytes = encodeEvent(event);
      const decoded = decodeEvent(bytes);
      expect(decoded).toEqual({ ok: true, event });
      if (decoded.ok) expect(encodeEvent(decoded.event).equals(bytes)).toBe(true);
    }
  });

  it('writes the keys in one fixed order, whatever order the event has them in', () => {
    const shuffled = { body: { b: 1, a: 2 }, ts: TS, origin: 'eu-west', version: VERSION, op: 'upsert', id: 'x', schema: 1 } as const;
    expect(encodeEvent(shuffled).toString('utf8')).toBe(`{"schema":1,"id":"x","op":"upsert","version":"${VERSION}","origin":"eu-west","ts":"${TS}","body":{"b":1,"a":2}}`);
    expect(encodeEvent({ ts: TS, op: 'delete', id: 'x', schema: 1, origin: 'eu-west', version: '7' }).toString('utf8')).toBe(
      `{"schema":1,"id":"x","op":"delete","version":"7","origin":"eu-west","ts":"${TS}"}`,
    );
  });

  it('returns deep-frozen events', () => {
    const result = decodeJson(upsert({ body: { nested: { list: [1] } } }));
    expect(result.ok).toBe(true);
    if (!result.ok || result.event.op !== 'upsert') return;
    expect(Object.isFrozen(result.event)).toBe(true);
    expect(Object.isFrozen(result.event.body['nested'])).toBe(true);
  });

  it('carries a version the clock can decode', () => {
    const result = decodeJson(upsert());
    if (!result.ok) throw new Error(result.reason);
    expect(decodeVersion(BigInt(result.event.version))).toEqual({ physicalMs: Date.parse(TS), logical: 0, regionId: 2 });
    expect(encodeVersion({ physicalMs: Date.parse(TS), logical: 0, regionId: 2 }).decimal).toBe(VERSION);
  });
});

describe('decodeEvent refuses bad events with precise problems', () => {
  const cases: Array<[string, unknown, Array<[string, unknown, string]>]> = [
    ['schema missing', without(upsert(), 'schema'), [['schema', undefined, M.schema]]],
    ['schema 0', upsert({ schema: 0 }), [['schema', 0, M.schema]]],
    ['schema as text', upsert({ schema: '1' }), [['schema', '1', M.schema]]],
    ['schema not an integer', upsert({ schema: 1.5 }), [['schema', 1.5, M.schema]]],
    ['id missing', without(upsert(), 'id'), [['id', undefined, M.idType]]],
    ['id a number', upsert({ id: 42 }), [['id', 42, M.idType]]],
    ['id empty', upsert({ id: '' }), [['id', '', 'expected a non-empty document id']]],
    ['id too long', upsert({ id: 'a'.repeat(513) }), [['id', `${'a'.repeat(117)}...`, 'expected a document id of at most 512 characters (got 513)']]],
    ['id starting with "_"', upsert({ id: '_search' }), [['id', '_search', 'expected a document id starting with a letter or digit']]],
    ['id starting with "."', upsert({ id: '..' }), [['id', '..', 'expected a document id starting with a letter or digit']]],
    ['id with a slash', upsert({ id: 'a/b' }), [['id', 'a/b', 'expected a document id of only A-Z a-z 0-9 and - . _ ~ : @ (found "/" at position 1)']]],
    ['id with a space', upsert({ id: 'my doc' }), [['id', 'my doc', 'expected a document id of only A-Z a-z 0-9 and - . _ ~ : @ (found " " at position 2)']]],
    ['id not ASCII', upsert({ id: 'café' }), [['id', 'café', 'expected a document id of only A-Z a-z 0-9 and - . _ ~ : @ (found "é" at position 3)']]],
    ['op unknown', upsert({ op: 'put' }), [['op', 'put', M.op]]],
    ['op missing, no body', without(del(), 'op'), [['op', undefined, M.op]]],
    ['version a number', upsert({ version: 5 }), [['version', 5, M.version]]],
    ['version 0', upsert({ version: '0' }), [['version', '0', M.version]]],
    ['version with a leading zero', upsert({ version: '012' }), [['version', '012', M.version]]],
    ['version negative', upsert({ version: '-5' }), [['version', '-5', M.version]]],
    ['version above 2^63 - 1', upsert({ version: '9223372036854775808' }), [['version', '9223372036854775808', M.version]]],
    ['origin upper case', upsert({ origin: 'US-East' }), [['origin', 'US-East', M.origin]]],
    ['origin missing', without(upsert(), 'origin'), [['origin', undefined, M.origin]]],
    ['ts as epoch ms', upsert({ ts: 1772366400000 }), [['ts', 1772366400000, M.ts]]],
    ['ts without milliseconds', upsert({ ts: '2026-03-01T12:00:00Z' }), [['ts', '2026-03-01T12:00:00Z', M.ts]]],
    ['ts with an offset', upsert({ ts: '2026-03-01T13:00:00.000+01:00' }), [['ts', '2026-03-01T13:00:00.000+01:00', M.ts]]],
    ['ts on February 30', upsert({ ts: '2026-02-30T12:00:00.000Z' }), [['ts', '2026-02-30T12:00:00.000Z', M.ts]]],
    ['upsert without body', without(upsert(), 'body'), [['body', undefined, M.bodyMissing]]],
    ['delete with a body', del({ body: {} }), [['body', {}, M.bodyOnDelete]]],
    ['body a list', upsert({ body: [1, 2] }), [['body', [1, 2], M.bodyType]]],
    ['body null', upsert({ body: null }), [['body', null, M.bodyType]]],
    ['body a string', upsert({ body: 'hello' }), [['body', 'hello', M.bodyType]]],
    [
      'body with "_" fields',
      upsert({ body: { _id: 'x', title: 't', _source: {}, nested: { _ok: 'only the top level is reserved' } } }),
      [
        ['body._id', '_id', M.reserved],
        ['body._source', '_source', M.reserved],
      ],
    ],
    ['unknown field', upsert({ extra: true }), [['extra', 'extra', M.unknown]]],
    [
      'a misspelt field',
      without(upsert({ verison: VERSION }), 'version'),
      [
        ['version', undefined, M.version],
        ['verison', 'verison', M.unknown],
      ],
    ],
    [
      'everything wrong at once, reported in field order',
      { extra: 1, body: [], ts: 'now', origin: 'Mars', version: 'v1', op: 'delete', id: '', schema: 0 },
      [
        ['schema', 0, M.schema],
        ['id', '', 'expected a non-empty document id'],
        ['version', 'v1', M.version],
        ['origin', 'Mars', M.origin],
        ['ts', 'now', M.ts],
        ['body', [], M.bodyOnDelete],
        ['extra', 'extra', M.unknown],
      ],
    ],
  ];

  it.each(cases)('%s', (_name, raw, expected) => {
    const failure = failureOf(decodeJson(raw));
    expect(failure.code).toBe('EVENT_INVALID');
    expect(rows(failure.problems)).toEqual(expected);
  });

  it('says why in a reason fit for a dead-letter record', () => {
    const failure = failureOf(decodeJson(upsert({ id: 'a b', version: 5, extra: true })));
    expect(failure.reason).toBe(
      [
        'Invalid document event (3 problems):',
        '  - id: got "a b"; expected a document id of only A-Z a-z 0-9 and - . _ ~ : @ (found " " at position 1)',
        `  - version: got 5; ${M.version}`,
        `  - extra: got "extra"; ${M.unknown}`,
      ].join('\n'),
    );
  });

  it('accepts ids up to 512 characters of the safe set', () => {
    for (const id of ['a', 'A9', `x${'y'.repeat(511)}`, '0-._~:@', '550e8400-e29b-41d4-a716-446655440000']) {
      expect(decodeJson(upsert({ id })).ok, id).toBe(true);
    }
  });

  it('refuses bytes that are not a JSON object, without throwing', () => {
    const cases: Array<[Buffer, string, unknown, string]> = [
      [Buffer.from([0x7b, 0xc3, 0x28, 0x7d]), '(root)', '{\ufffd(}', 'expected UTF-8 text'],
      [Buffer.from('{"schema":1,', 'utf8'), '(root)', '{"schema":1,', 'expected JSON text (a document event)'],
      [Buffer.from('', 'utf8'), '(root)', '', 'expected JSON text (a document event)'],
      [Buffer.from('[1,2]', 'utf8'), '(root)', [1, 2], M.root],
      [Buffer.from('null', 'utf8'), '(root)', null, M.root],
      [Buffer.from('"upsert"', 'utf8'), '(root)', 'upsert', M.root],
    ];
    for (const [bytes, path, value, expected] of cases) {
      const failure = failureOf(decodeEvent(bytes));
      expect(failure.code).toBe('EVENT_INVALID');
      expect(rows(failure.problems)).toEqual([[path, value, expected]]);
    }
  });

  it('refuses an oversized record before parsing it', () => {
    const limit = DEFAULT_EVENT_LIMITS.maxBodyBytes + ENVELOPE_ALLOWANCE_BYTES;
    const failure = failureOf(decodeEvent(Buffer.alloc(limit + 1, 0x20)));
    expect(rows(failure.problems)).toEqual([['(root)', 1_052_673, 'expected an event of at most 1052672 bytes (the body limit plus 4096 bytes of envelope)']]);
  });

  it('survives absurd nesting without exhausting the stack', () => {
    const depth = 200_000;
    const text = `{"schema":1,"id":"a","op":"upsert","version":"1","origin":"us-east","ts":"${TS}","body":{"a":${'['.repeat(depth)}${']'.repeat(depth)}}}`;
    const failure = failureOf(decodeEvent(Buffer.from(text, 'utf8')));
    expect(failure.problems).toHaveLength(1);
    expect(failure.problems[0]?.path).toBe(`body.a${'[0]'.repeat(99)}`);
    expect(failure.problems[0]?.expected).toBe('expected at most 100 levels of nesting (objects and lists)');
  });

  it('lists at most MAX_PROBLEMS problems and says how many there were', () => {
    const raw = upsert();
    for (let i = 0; i < 60; i++) raw[`x${i}`] = i;
    const failure = failureOf(decodeJson(raw));
    expect(failure.problems).toHaveLength(MAX_PROBLEMS);
    expect(failure.reason.split('\n')[0]).toBe('Invalid document event (60 problems, the first 50 listed):');
  });
});

describe('body limits', () => {
  it('allows exactly 1 MiB of encoded body by default, and refuses one byte more', () => {
    // {"s":"…"} is the string plus 8 bytes.
    const atLimit = { s: 'x'.repeat(1024 * 1024 - 8) };
    const over = { s: 'x'.repeat(1024 * 1024 - 7) };
    expect(decodeJson(upsert({ body: atLimit })).ok).toBe(true);
    expect(rows(failureOf(decodeJson(upsert({ body: over }))).problems)).toEqual([['body', 1_048_577, 'expected at most 1048576 bytes once encoded as JSON']]);
    expect(validateDocumentInput('doc-1', atLimit)).toEqual([]);
    expect(rows(validateDocumentInput('doc-1', over))).toEqual([['body', 1_048_577, 'expected at most 1048576 bytes once encoded as JSON']]);
  });

  it('counts UTF-8 bytes, not characters, and takes a configured limit', () => {
    const limits = { maxBodyBytes: 20 };
    // {"s":"éééééé"}: 8 + 6 × 2 = 20 bytes, but only 14 characters.
    expect(validateDocumentInput('a', { s: 'éééééé' }, limits)).toEqual([]);
    expect(rows(validateDocumentInput('a', { s: 'ééééééx' }, limits))).toEqual([['body', 21, 'expected at most 20 bytes once encoded as JSON']]);
    const event = upsert({ body: { s: 'ééééééx' } });
    expect(failureOf(decodeEvent(Buffer.from(JSON.stringify(event)), { limits })).problems[0]?.expected).toBe('expected at most 20 bytes once encoded as JSON');
    expect(thrown(() => encodeEvent(event as unknown as DocumentEvent, limits)).code).toBe('EVENT_INVALID');
  });

  it('allows 100 levels of nesting by default, and a configured depth', () => {
    expect(validateDocumentInput('a', nested(100))).toEqual([]);
    expect(rows(validateDocumentInput('a', nested(101)))).toEqual([[`body${'.a'.repeat(100)}`, {}, 'expected at most 100 levels of nesting (objects and lists)']]);
    expect(rows(validateDocumentInput('a', { list: [[1]] }, { maxBodyDepth: 2 }))).toEqual([['body.list[0]', [1], 'expected at most 2 levels of nesting (objects and lists)']]);
  });

  it('refuses limits that are not positive integers', () => {
    expect(thrown(() => decodeEvent(Buffer.from('{}'), { limits: { maxBodyBytes: 0 } })).message).toBe('Invalid event limit maxBodyBytes: got 0; expected a positive integer.');
    expect(thrown(() => validateDocumentInput('a', {}, { maxBodyDepth: 1.5 })).code).toBe('INVALID_ARGUMENT');
  });
});

describe('encodeEvent refuses what JSON would not carry faithfully', () => {
  it('names every value that is not plain JSON', () => {
    const body = {
      nan: Number.NaN,
      inf: Number.POSITIVE_INFINITY,
      missing: undefined,
      when: new Date(0),
      big: 10n,
      fn: () => 1,
      list: [1, undefined],
    } as unknown as JsonObject;
    const event = { schema: 1, id: 'a', op: 'upsert', version: '1', origin: 'us-east', ts: TS, body } as const;
    const err = thrown(() => encodeEvent(event));
    expect(err.code).toBe('EVENT_INVALID');
    expect(rows(err.details['problems'] as EventProblem[])).toEqual([
      ['body.nan', Number.NaN, M.finite],
      ['body.inf', Number.POSITIVE_INFINITY, M.finite],
      ['body.missing', undefined, M.jsonValue],
      ['body.when', new Date(0), M.jsonValue],
      ['body.big', '10n', M.jsonValue],
      ['body.fn', 'a function', M.jsonValue],
      ['body.list[1]', undefined, M.jsonValue],
    ]);
    expect(err.message.split('\n')[0]).toBe('Invalid document event (7 problems):');
  });

  it('refuses a cyclic body without looping', () => {
    const body: Record<string, unknown> = { a: 1 };
    body['self'] = body;
    const event = { schema: 1, id: 'a', op: 'upsert', version: '1', origin: 'us-east', ts: TS, body } as unknown as DocumentEvent;
    const problems = thrown(() => encodeEvent(event)).details['problems'] as EventProblem[];
    expect(problems).toHaveLength(1);
    expect(problems[0]?.path).toBe(`body${'.self'.repeat(100)}`);
    expect(problems[0]?.value).toBe('an object that JSON cannot encode');
  });

  it('writes only the current schema', () => {
    const event = { ...upsert(), schema: 2 } as unknown as DocumentEvent;
    const err = thrown(() => encodeEvent(event));
    expect(rows(err.details['problems'] as EventProblem[])).toEqual([['schema', 2, 'expected schema: 1 (writers always write the current schema)']]);
  });

  it('reports at most 10 bad values from one body', () => {
    const body = { list: Array.from({ length: 50 }, () => Number.NaN) } as unknown as JsonObject;
    const event = { schema: 1, id: 'a', op: 'upsert', version: '1', origin: 'us-east', ts: TS, body } as const;
    const problems = thrown(() => encodeEvent(event)).details['problems'] as EventProblem[];
    expect(problems.map((p) => p.path)).toEqual(Array.from({ length: 10 }, (_, i) => `body.list[${i}]`));
  });
});

describe('validateDocumentInput', () => {
  const cases: Array<[string, unknown, unknown, Array<[string, unknown, string]>]> = [
    ['a good document ("_" below the top level is fine)', 'doc-1', { title: 'Hello', nested: { _ok: 1 } }, []],
    ['an empty object', 'doc-1', {}, []],
    ['no id', undefined, { a: 1 }, [['id', undefined, M.idType]]],
    ['a bad id and a bad body', 'a#b', [1], [
      ['id', 'a#b', 'expected a document id of only A-Z a-z 0-9 and - . _ ~ : @ (found "#" at position 1)'],
      ['body', [1], M.bodyType],
    ]],
    ['no body', 'doc-1', undefined, [['body', undefined, M.bodyMissing]]],
    ['a null body', 'doc-1', null, [['body', null, M.bodyType]]],
    ['a reserved field', 'doc-1', { _routing: 'x', _version: 3 }, [
      ['body._routing', '_routing', M.reserved],
      ['body._version', '_version', M.reserved],
    ]],
  ];

  it.each(cases)('%s', (_name, id, body, expected) => {
    expect(rows(validateDocumentInput(id, body))).toEqual(expected);
  });

  it('shortens long values, so answers and logs stay small', () => {
    const [problem] = validateDocumentInput('x'.repeat(600), {});
    expect(problem?.value).toBe(`${'x'.repeat(117)}...`);
    const [bodyProblem] = validateDocumentInput('a', Array.from({ length: 100 }, (_, i) => i));
    expect(bodyProblem?.value).toBe(`${JSON.stringify(Array.from({ length: 100 }, (_, i) => i)).slice(0, 117)}...`);
  });

  it('formats like the configuration loader', () => {
    expect(formatEventProblems('Invalid document', validateDocumentInput('', { _id: 'x' }))).toBe(
      ['Invalid document (2 problems):', '  - id: got ""; expected a non-empty document id', `  - body._id: got "_id"; ${M.reserved}`].join('\n'),
    );
  });
});

describe('schema evolution', () => {
  it('reports a newer schema alone, as unsupported rather than invalid', () => {
    const failure = failureOf(decodeJson({ schema: 2, id: 'doc-1', op: 'merge', version: VERSION, origin: 'us-east', ts: TS, patch: {} }));
    expect(failure.code).toBe('EVENT_SCHEMA_UNSUPPORTED');
    expect(rows(failure.problems)).toEqual([['schema', 2, 'expected a schema version ≤ 1: this event was written by a newer version of georeplica; upgrade this reader']]);
    expect(failure.reason).toBe(
      'Unsupported document event (1 problem):\n  - schema: got 2; expected a schema version ≤ 1: this event was written by a newer version of georeplica; upgrade this reader',
    );
  });

  it('knows schema 1 only, for now', () => {
    expect(CURRENT_SCHEMA).toBe(1);
    expect(SCHEMA_HISTORY.current).toBe(1);
    expect(SCHEMA_HISTORY.upcasters.size).toBe(0);
    expect(upcast(upsert())).toEqual({ ok: true, raw: upsert() });
  });

  // A made-up history: schema 1 → 2 renamed `body` to `doc`, 2 → 3 added `tenant`.
  const v1ToV2: Upcaster = ({ body, ...rest }) => (body === undefined ? rest : { ...rest, doc: body });
  const v2ToV3: Upcaster = (raw) => ({ ...raw, tenant: 'default' });
  const history: SchemaHistory = { current: 3, upcasters: new Map([[1, v1ToV2], [2, v2ToV3]]) };

  it('runs every upcaster from the written schema to the current one, stamping the schema', () => {
    expect(upcast({ schema: 1, id: 'a', body: { x: 1 } }, history)).toEqual({ ok: true, raw: { schema: 3, id: 'a', doc: { x: 1 }, tenant: 'default' } });
    expect(upcast({ schema: 2, id: 'a', doc: { x: 1 } }, history)).toEqual({ ok: true, raw: { schema: 3, id: 'a', doc: { x: 1 }, tenant: 'default' } });
    expect(upcast({ schema: 3, id: 'a', tenant: 't' }, history)).toEqual({ ok: true, raw: { schema: 3, id: 'a', tenant: 't' } });
  });

  it('refuses newer and malformed schemas', () => {
    expect(upcast({ schema: 4 }, history)).toEqual({
      ok: false,
      code: 'EVENT_SCHEMA_UNSUPPORTED',
      problem: { path: 'schema', value: 4, expected: 'expected a schema version ≤ 3: this event was written by a newer version of georeplica; upgrade this reader' },
    });
    expect(upcast({ schema: 'two' }, history)).toEqual({
      ok: false,
      code: 'EVENT_INVALID',
      problem: { path: 'schema', value: 'two', expected: 'expected a schema version: an integer from 1 to 3' },
    });
  });

  it('refuses a history with a gap', () => {
    const gap: SchemaHistory = { current: 3, upcasters: new Map([[2, v2ToV3]]) };
    const err = thrown(() => checkSchemaHistory(gap));
    expect(err.code).toBe('INTERNAL');
    expect(err.message).toBe('The event schema history has no upcaster from schema 1 to 2.');
    expect(() => checkSchemaHistory(history)).not.toThrow();
  });
});
