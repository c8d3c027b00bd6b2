import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { validateDeployment } from '../../config/load.ts';
import { resolveClientRegion } from '../../topology/client-region.ts';
import type { ClientHints } from '../../topology/client-region.ts';
import { Topology } from '../../topology/topology.ts';
import { thrown } from '../support/errors.ts';

type Mapping = Record<string, unknown>;

const LOCAL_YAML = readFileSync(new URL('../../topology/regions.local.yaml', import.meta.url), 'utf8');

/** The local three-region topology, optionally changed first, validated as any deployment is. */
function topology(mutate: (doc: Mapping) => void = () => {}): Topology {
  const doc = parse(LOCAL_YAML) as Mapping;
  mutate(doc);
  return new Topology(validateDeployment(doc, 'test.yaml', {}));
}

function mapping(doc: Mapping, path: readonly string[]): Mapping {
  let node: unknown = doc;
  for (const key of path) node = (node as Mapping)[key];
  if (node === null || typeof node !== 'object') throw new Error(`no mapping at ${path.join('.')}`);
  return node as Mapping;
}

function list(doc: Mapping, path: readonly string[]): unknown[] {
  const last = path[path.length - 1] ?? '';
  const node = mapping(doc, path.slice(0, -1))[last];
  if (!Array.isArray(node)) throw new Error(`no list at ${path.join('.')}`);
  return node;
}


const local = topology();

describe('resolveClientRegion: precedence', () => {
  it('takes an explicit region over every other hint', () => {
    expect(resolveClientRegion(local, { region: 'eu-west', ip: '10.3.0.1', country: 'US', lat: 1.29, lon: 103.85 })).toEqual({ region: 'eu-west', reason: 'explicit' });
  });

  it('takes the network over the country and coordinates', () => {
    expect(resolveClientRegion(local, { ip: '10.3.0.1', country: 'US', lat: 53.35, lon: -6.26 })).toEqual({ region: 'ap-southeast', reason: 'network' });
  });

  it('takes the country over the coordinates', () => {
    expect(resolveClientRegion(local, { country: 'JP', lat: 53.35, lon: -6.26 })).toEqual({ region: 'ap-southeast', reason: 'country' });
  });

  it('uses the coordinates when nothing stronger matches', () => {
    expect(resolveClientRegion(local, { ip: '8.8.8.8', country: 'ZZ', lat: 48.86, lon: 2.35 })).toEqual({ region: 'eu-west', reason: 'coordinates' });
  });

  it('falls back to the default region', () => {
    expect(resolveClientRegion(local, {})).toEqual({ region: 'us-east', reason: 'default' });
    expect(resolveClientRegion(local, { ip: '8.8.8.8', country: 'ZZ' })).toEqual({ region: 'us-east', reason: 'default' });
    expect(resolveClientRegion(topology((d) => (d['defaultRegion'] = 'eu-west')), {})).toEqual({ region: 'eu-west', reason: 'default' });
  });

  it('treats empty and blank strings as hints not given', () => {
    expect(resolveClientRegion(local, { region: '', ip: ' ', country: '', lat: '', lon: '  ' })).toEqual({ region: 'us-east', reason: 'default' });
  });
});

describe('resolveClientRegion: explicit region', () => {
  it('throws UNKNOWN_REGION listing the valid regions', () => {
    const err = thrown(() => resolveClientRegion(local, { region: 'us-west', country: 'US' }));
    expect(err.code).toBe('UNKNOWN_REGION');
    expect(err.message).toBe('Unknown region "us-west". Valid regions: us-east, eu-west, ap-southeast.');
    expect(err.details).toEqual({ region: 'us-west', valid: ['us-east', 'eu-west', 'ap-southeast'] });
  });

  it('does not guess at case', () => {
    expect(thrown(() => resolveClientRegion(local, { region: 'EU-WEST' })).code).toBe('UNKNOWN_REGION');
  });
});

describe('resolveClientRegion: network', () => {
  it.each([
    ['10.1.200.3', 'us-east'],
    ['10.2.0.9', 'eu-west'],
    ['198.51.100.12', 'us-east'],
    ['198.51.100.200', 'eu-west'],
    ['203.0.113.77', 'ap-southeast'],
    ['::ffff:10.3.4.5', 'ap-southeast'],
    ['2001:db8:2::5', 'eu-west'],
    [' 10.2.0.9 ', 'eu-west'],
  ])('%s → %s', (ip, region) => {
    expect(resolveClientRegion(local, { ip })).toEqual({ region, reason: 'network' });
  });

  it('picks the longest matching prefix, not the first region listed', () => {
    const t = topology((d) => list(d, ['regions', 'us-east', 'clients', 'networks']).push('10.0.0.0/8'));
    expect(resolveClientRegion(t, { ip: '10.2.3.4' })).toEqual({ region: 'eu-west', reason: 'network' });
    expect(resolveClientRegion(t, { ip: '10.9.0.1' })).toEqual({ region: 'us-east', reason: 'network' });
  });

  it('compares IPv4 blocks and IPv4-mapped IPv6 blocks by specificity', () => {
    const t = topology((d) => list(d, ['regions', 'ap-southeast', 'clients', 'networks']).push('::ffff:10.2.3.0/120'));
    expect(resolveClientRegion(t, { ip: '10.2.3.4' })).toEqual({ region: 'ap-southeast', reason: 'network' });
    expect(resolveClientRegion(t, { ip: '10.2.4.4' })).toEqual({ region: 'eu-west', reason: 'network' });
  });

  it.each(['garbage', '10.1.2', '10.1.2.3:443', '[2001:db8:1::1]'])('lets the unparseable address %j fall through', (ip) => {
    expect(resolveClientRegion(local, { ip, country: 'DE' })).toEqual({ region: 'eu-west', reason: 'country' });
  });
});

describe('resolveClientRegion: country', () => {
  it.each([
    ['US', 'us-east'],
    ['br', 'us-east'],
    ['Gb', 'eu-west'],
    ['za', 'eu-west'],
    [' nz ', 'ap-southeast'],
  ])('%j → %s, ignoring case', (country, region) => {
    expect(resolveClientRegion(local, { country })).toEqual({ region, reason: 'country' });
  });
});

describe('resolveClientRegion: coordinates', () => {
  it.each<[string, ClientHints, string]>([
    ['Chicago', { lat: 41.88, lon: -87.63 }, 'us-east'],
    ['Paris', { lat: 48.86, lon: 2.35 }, 'eu-west'],
    ['Tokyo', { lat: 35.68, lon: 139.69 }, 'ap-southeast'],
    ['Sydney as text', { lat: ' -33.87 ', lon: '151.21' }, 'ap-southeast'],
    ['Lagos as text', { lat: '6.52', lon: '3.38' }, 'eu-west'],
    ['the north pole', { lat: 90, lon: -180 }, 'eu-west'],
  ])('%s → %s', (_place, client, region) => {
    expect(resolveClientRegion(local, client)).toEqual({ region, reason: 'coordinates' });
  });

  it('breaks an exact tie by region name, not by file order', () => {
    const t = topology((d) => {
      const regions = mapping(d, ['regions']);
      mapping(regions, ['us-east'])['location'] = { lat: 0, lon: 10 };
      mapping(regions, ['eu-west'])['location'] = { lat: 0, lon: -10 };
    });
    expect(resolveClientRegion(t, { lat: 0, lon: 0 })).toEqual({ region: 'eu-west', reason: 'coordinates' });
  });
});

describe('resolveClientRegion: invalid coordinates', () => {
  it.each<[string, ClientHints, string, unknown]>([
    ['non-numeric lat', { lat: 'abc', lon: 0 }, 'lat: got "abc"; expected a number between -90 and 90', 'abc'],
    ['lat out of range', { lat: 91, lon: 0 }, 'lat: got 91; expected a number between -90 and 90', 91],
    ['lat below range', { lat: '-90.5', lon: 0 }, 'lat: got "-90.5"; expected a number between -90 and 90', '-90.5'],
    ['lon out of range', { lat: 0, lon: -180.5 }, 'lon: got -180.5; expected a number between -180 and 180', -180.5],
    ['NaN lat', { lat: Number.NaN, lon: 0 }, 'lat: got NaN; expected a number between -90 and 90', Number.NaN],
    ['infinite lon', { lat: 0, lon: Number.POSITIVE_INFINITY }, 'lon: got Infinity; expected a number between -180 and 180', Number.POSITIVE_INFINITY],
    ['hex text', { lat: '0x10', lon: 0 }, 'lat: got "0x10"; expected a number between -90 and 90', '0x10'],
    ['trailing junk', { lat: 10, lon: '12abc' }, 'lon: got "12abc"; expected a number between -180 and 180', '12abc'],
    ['lat without lon', { lat: 10 }, 'lon: got nothing (the key is missing); expected a number between -180 and 180, given together with lat', undefined],
    ['lon without lat', { lat: '', lon: '5' }, 'lat: got ""; expected a number between -90 and 90, given together with lon', ''],
  ])('%s', (_case, client, message, value) => {
    const err = thrown(() => resolveClientRegion(local, client));
    expect(err.code).toBe('INVALID_ARGUMENT');
    expect(err.message).toBe(message);
    expect(err.details['field']).toBe(message.slice(0, 3));
    expect(err.details['value']).toEqual(value);
  });

  it('rejects bad coordinates even when a stronger hint decides', () => {
    expect(thrown(() => resolveClientRegion(local, { region: 'eu-west', lat: 'abc', lon: 0 })).code).toBe('INVALID_ARGUMENT');
  });
});
