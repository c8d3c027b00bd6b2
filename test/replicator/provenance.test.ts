import { describe, expect, it } from 'vitest';
import { formatProvenance, H_ORIGIN, isReplicated, listIsReplicated, parseProvenance, ProvenanceStamp, readOrigin } from '../../replicator/provenance.ts';
import type { HeaderList } from '../../replicator/provenance.ts';

describe('provenance', () => {
  it('stamps a copy with one header naming hops, topic, partition and offset', () => {
    const stamp = new ProvenanceStamp({ region: 'us-east', topic: 'documents', partition: 3 }, 'eu-west');
    expect(stamp.headers(12345, undefined)).toEqual([{ [H_ORIGIN]: 'us-east>eu-west/documents/3/12345' }]);
    expect(readOrigin({ [H_ORIGIN]: 'us-east>eu-west/documents/3/12345' })).toEqual({ region: 'us-east', topic: 'documents', partition: 3, offset: '12345', hops: ['us-east', 'eu-west'] });
  });

  it("keeps the record's own headers, in order and with duplicates, and replaces provenance it already carried", () => {
    const stamp = new ProvenanceStamp({ region: 'eu-west', topic: 'orders.v2', partition: 0 }, 'ap-southeast');
    const own: HeaderList = [{ 'x-app': 'a' }, { 'x-app': 'b' }, { [H_ORIGIN]: 'us-east>eu-west/orders.v2/0/7' }, { trace: Buffer.from('t') }];
    expect(stamp.headers(9, own)).toEqual([{ 'x-app': 'a' }, { 'x-app': 'b' }, { trace: Buffer.from('t') }, { [H_ORIGIN]: 'us-east>eu-west>ap-southeast/orders.v2/0/9' }]);
    // Read from eu-west (the hop before the copy's region), coming from us-east.
    expect(parseProvenance('us-east>eu-west>ap-southeast/orders.v2/0/9')).toMatchObject({ region: 'eu-west', hops: ['us-east', 'eu-west', 'ap-southeast'] });
  });

  it('still reads and replaces the five headers written before the compact one', () => {
    const legacy = { 'georeplica.origin.region': 'us-east', 'georeplica.origin.topic': 't', 'georeplica.origin.partition': '2', 'georeplica.origin.offset': '40', 'georeplica.hops': 'us-east>eu-west' };
    expect(readOrigin(legacy)).toEqual({ region: 'us-east', topic: 't', partition: 2, offset: '40', hops: ['us-east', 'eu-west'] });
    expect(isReplicated(legacy)).toBe(true);
    const list = Object.entries(legacy).map(([k, v]) => ({ [k]: v }));
    expect(listIsReplicated(list)).toBe(true);
    expect(new ProvenanceStamp({ region: 'eu-west', topic: 't', partition: 2 }, 'ap-southeast').headers(5, list)).toEqual([{ [H_ORIGIN]: 'us-east>eu-west>ap-southeast/t/2/5' }]);
  });

  it('says a record with no provenance is no copy, and refuses values that are not provenance', () => {
    expect(isReplicated({ 'x-app': 'a' })).toBe(false);
    expect(listIsReplicated([{ 'x-app': 'a' }])).toBe(false);
    expect(listIsReplicated(undefined)).toBe(false);
    expect(readOrigin(undefined)).toBeUndefined();
    for (const bad of ['', 'us-east', 'us-east/t/1', 'us-east/t/x/1', 'us-east/t/1/-1', '/t/1/1', 'us-east//1/1', 'a/b/c/d/e']) expect(parseProvenance(bad)).toBeUndefined();
    expect(formatProvenance(['us-east', 'eu-west'], 'documents', 3, 12345)).toBe('us-east>eu-west/documents/3/12345');
  });
});
