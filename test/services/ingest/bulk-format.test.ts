import { describe, expect, it } from 'vitest';
import { MAX_BULK_LINES, parseBulk } from '../../../services/ingest/bulk-format.ts';
import { uuidV7 } from '../../../services/ingest/document-id.ts';
import { thrown } from '../../support/errors.ts';

describe('bulk format', () => {
  it('numbers lines as they appear, skips blank ones and accepts CRLF', () => {
    const lines = parseBulk('{"op":"upsert","id":"a","body":{"x":1}}\r\n\n{"op":"delete","id":"b"}\n');
    expect(lines).toEqual([
      { ok: true, action: { line: 1, op: 'upsert', id: 'a', body: { x: 1 } } },
      { ok: true, action: { line: 3, op: 'delete', id: 'b' } },
    ]);
  });

  it('reports every problem of a line, keeping what it could read of op and id', () => {
    const [line] = parseBulk('{"op":"upsert","id":"-x","body":{"_id":1},"extra":1}');
    expect(line?.ok).toBe(false);
    if (line?.ok !== false) return;
    expect(line).toMatchObject({ line: 1, op: 'upsert', id: '-x' });
    expect(line.error.code).toBe('EVENT_INVALID');
    expect(line.error.message.split('\n')).toEqual([
      'Invalid bulk line 1 (3 problems):',
      '  - id: got "-x"; expected a document id starting with a letter or digit',
      '  - body._id: got "_id"; expected no top-level field starting with "_": those names are reserved for OpenSearch metadata (_id, _source, ...)',
      '  - extra: got "extra"; expected no such field; the fields are op, id, body',
    ]);
  });

  it('refuses the request as a whole only when it has no action or too many', () => {
    expect(thrown(() => parseBulk(' \n')).code).toBe('INVALID_ARGUMENT');
    const many = Array.from({ length: MAX_BULK_LINES + 1 }, (_, i) => `{"op":"delete","id":"d${i}"}`).join('\n');
    expect(thrown(() => parseBulk(many)).message).toContain(`expected at most ${MAX_BULK_LINES} action lines`);
  });
});

describe('uuidV7', () => {
  it('puts the time first and sets the version and variant', () => {
    const id = uuidV7(Date.UTC(2026, 2, 1), new Uint8Array(10).fill(0xff));
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7fff-bfff-ffffffffffff$/);
    expect(parseInt(id.replace(/-/g, '').slice(0, 12), 16)).toBe(Date.UTC(2026, 2, 1));
    expect(uuidV7(1) < uuidV7(2)).toBe(true);
  });
});
