import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadDeployment, parseDeployment, validateDeployment } from '../../config/load.ts';
import type { Deployment, RegionConfig } from '../../config/schema.ts';
import type { GeoError } from '../../core/errors.ts';
import { thrown } from '../support/errors.ts';

type Mapping = Record<string, unknown>;

const LOCAL_PATH = fileURLToPath(new URL('../../topology/regions.local.yaml', import.meta.url));
const LOCAL_YAML = readFileSync(LOCAL_PATH, 'utf8');

/** A fresh copy of the valid local deployment, as plain data to break. */
function base(): Mapping {
  return parse(LOCAL_YAML) as Mapping;
}

function mapping(doc: Mapping, path: string): Mapping {
  let node: unknown = doc;
  for (const key of path.split('.')) node = (node as Mapping)[key];
  if (node === null || typeof node !== 'object' || Array.isArray(node)) throw new Error(`no mapping at ${path}`);
  return node as Mapping;
}

function list(doc: Mapping, path: string): unknown[] {
  const dot = path.lastIndexOf('.');
  const node = mapping(doc, path.slice(0, dot))[path.slice(dot + 1)];
  if (!Array.isArray(node)) throw new Error(`no list at ${path}`);
  return node;
}


function invalid(doc: Mapping, env: Readonly<Record<string, string>> = {}): GeoError {
  const err = thrown(() => validateDeployment(doc, 'test.yaml', env));
  expect(err.code).toBe('CONFIG_INVALID');
  return err;
}

function region(d: Readonly<Deployment>, name: string): RegionConfig {
  const r = d.regions[name];
  if (r === undefined) throw new Error(`no region ${name}`);
  return r;
}

describe('validateDeployment', () => {
  it('accepts the local deployment', () => {
    const d = validateDeployment(base(), 'test.yaml', {});
    expect(Object.keys(d.regions)).toEqual(['us-east', 'eu-west', 'ap-southeast']);
    expect(region(d, 'us-east').ports.ingest).toBe(11010);
  });

  it('fills in the defaults for omitted sections', () => {
    const doc = base();
    delete doc['topics'];
    delete doc['runtime'];
    delete mapping(doc, 'regions.eu-west')['clients'];
    const d = validateDeployment(doc, 'test.yaml', {});
    expect(d.topics).toEqual({ documents: 'documents', heartbeats: 'heartbeats', deadLetter: 'documents.dlq' });
    expect(d.runtime).toEqual({ stateDir: '.regions', kafkaHeapMb: 320, opensearchHeapMb: 384, readyTimeoutSec: 180, linkProxies: { enabled: false, portOffset: 400, latency: 'topology' }, jit: 'full' });
    expect(region(d, 'eu-west').clients).toEqual({ networks: [], countries: [] });
  });

  it.each<{ name: string; mutate: (doc: Mapping) => void; line: string }>([
    {
      name: 'a misspelt key, with a suggestion',
      mutate: (d) => {
        const r = mapping(d, 'regions.us-east');
        r['prots'] = r['ports'];
        delete r['ports'];
      },
      line: '  - regions.us-east.prots: got "prots"; expected no such key (did you mean "ports"?); allowed keys here: displayName, location, clients, kafka, search, ports',
    },
    {
      name: 'a key in the wrong case',
      mutate: (d) => {
        d['defaultregion'] = d['defaultRegion'];
        delete d['defaultRegion'];
      },
      line: '  - defaultregion: got "defaultregion"; expected no such key (did you mean "defaultRegion"?); allowed keys here: version, defaultRegion, regions, latencies, topics, replication, admin, runtime, router',
    },
    {
      name: 'an unknown key with no close match',
      mutate: (d) => (mapping(d, 'runtime')['colour'] = 'blue'),
      line: '  - runtime.colour: got "colour"; expected no such key; allowed keys here: stateDir, kafkaHeapMb, opensearchHeapMb, readyTimeoutSec, linkProxies, jit',
    },
    {
      name: 'a missing required key',
      mutate: (d) => delete mapping(d, 'regions.ap-southeast')['location'],
      line: '  - regions.ap-southeast.location: got nothing (the key is missing); expected a mapping',
    },
    {
      name: 'a missing port',
      mutate: (d) => delete mapping(d, 'regions.us-east.ports')['router'],
      line: '  - regions.us-east.ports.router: got nothing (the key is missing); expected a port number (integer 1-65535)',
    },
    {
      name: 'a default region that is not defined',
      mutate: (d) => (d['defaultRegion'] = 'us-west'),
      line: '  - defaultRegion: got "us-west"; expected one of the defined regions: us-east, eu-west, ap-southeast',
    },
    {
      name: 'a latency to an undefined region',
      mutate: (d) => (mapping(d, 'latencies.us-east')['us-west'] = 60),
      line: '  - latencies.us-east.us-west: got "us-west"; expected a defined region (us-east, eu-west, ap-southeast); define regions.us-west or remove this entry',
    },
    {
      name: 'latencies from an undefined region',
      mutate: (d) => (mapping(d, 'latencies')['us-west'] = { 'us-east': 60 }),
      line: '  - latencies.us-west: got "us-west"; expected a defined region (us-east, eu-west, ap-southeast); define regions.us-west or remove this entry',
    },
    {
      name: 'a missing latency pair',
      mutate: (d) => delete mapping(d, 'latencies')['eu-west'],
      line: '  - latencies.eu-west.ap-southeast: got nothing (the key is missing); expected the one-way latency in ms between eu-west and ap-southeast',
    },
    {
      name: 'a pair given twice',
      mutate: (d) => (mapping(d, 'latencies.eu-west')['us-east'] = 40),
      line: '  - latencies.eu-west.us-east: got 40; expected each pair once; this pair is already given at latencies.us-east.eu-west',
    },
    {
      name: 'a latency from a region to itself',
      mutate: (d) => (mapping(d, 'latencies.eu-west')['eu-west'] = 1),
      line: '  - latencies.eu-west.eu-west: got 1; expected no latency from a region to itself (it is 0 by definition)',
    },
    {
      name: 'a non-numeric latency',
      mutate: (d) => (mapping(d, 'latencies.us-east')['eu-west'] = 'fast'),
      line: '  - latencies.us-east.eu-west: got "fast"; expected a one-way latency in milliseconds',
    },
    {
      name: 'a zero latency',
      mutate: (d) => (mapping(d, 'latencies.us-east')['eu-west'] = 0),
      line: '  - latencies.us-east.eu-west: got 0; expected a latency > 0 ms',
    },
    {
      name: 'two services on the same port in different regions',
      mutate: (d) => (mapping(d, 'regions.eu-west.ports')['search'] = 11010),
      line: '  - regions.eu-west.ports.search: got 11010; expected a port not used elsewhere; 11010 is already used by regions.us-east.ports.ingest',
    },
    {
      name: 'two services on the same port in one region',
      mutate: (d) => (mapping(d, 'regions.us-east.ports')['router'] = 11020),
      line: '  - regions.us-east.ports.router: got 11020; expected a port not used elsewhere; 11020 is already used by regions.us-east.ports.search',
    },
    {
      name: 'a service on the port of a Kafka controller',
      mutate: (d) => (mapping(d, 'regions.eu-west.ports')['router'] = 11093),
      line: '  - regions.eu-west.ports.router: got 11093; expected a port not used elsewhere; 11093 is already used by regions.us-east.kafka.bootstrap[0] (controller, port + 1)',
    },
    {
      name: 'a non-numeric port',
      mutate: (d) => (mapping(d, 'regions.us-east.ports')['ingest'] = 'abc'),
      line: '  - regions.us-east.ports.ingest: got "abc"; expected a port number (integer 1-65535)',
    },
    {
      name: 'a quoted port',
      mutate: (d) => (mapping(d, 'regions.us-east.ports')['ingest'] = '11010'),
      line: '  - regions.us-east.ports.ingest: got "11010"; expected a port number (integer 1-65535)',
    },
    {
      name: 'a port out of range',
      mutate: (d) => (mapping(d, 'regions.us-east.ports')['ingest'] = 70000),
      line: '  - regions.us-east.ports.ingest: got 70000; expected a port ≤ 65535',
    },
    {
      name: 'a fractional port',
      mutate: (d) => (mapping(d, 'regions.us-east.ports')['ingest'] = 11010.5),
      line: '  - regions.us-east.ports.ingest: got 11010.5; expected an integer port',
    },
    {
      name: 'a CIDR with too many prefix bits',
      mutate: (d) => list(d, 'regions.us-east.clients.networks').push('10.9.0.0/33'),
      line: '  - regions.us-east.clients.networks[3]: got "10.9.0.0/33"; expected a CIDR block such as "10.1.0.0/16" or "2001:db8::/32"',
    },
    {
      name: 'a network without a prefix length',
      mutate: (d) => (list(d, 'regions.eu-west.clients.networks')[0] = '10.2.0.0'),
      line: '  - regions.eu-west.clients.networks[0]: got "10.2.0.0"; expected a CIDR block such as "10.1.0.0/16" or "2001:db8::/32"',
    },
    {
      name: 'a network claimed by two regions',
      mutate: (d) => list(d, 'regions.ap-southeast.clients.networks').push('10.1.0.0/16'),
      line: '  - regions.ap-southeast.clients.networks[3]: got "10.1.0.0/16"; expected each client network in one region only; it is also at regions.us-east.clients.networks[0]',
    },
    {
      name: 'a country claimed by two regions',
      mutate: (d) => list(d, 'regions.eu-west.clients.countries').push('US'),
      line: '  - regions.eu-west.clients.countries[11]: got "US"; expected each client country in one region only; it is also at regions.us-east.clients.countries[0]',
    },
    {
      name: 'a lowercase country code',
      mutate: (d) => (list(d, 'regions.eu-west.clients.countries')[0] = 'ie'),
      line: '  - regions.eu-west.clients.countries[0]: got "ie"; expected an ISO 3166-1 alpha-2 country code, e.g. "US"',
    },
    {
      name: 'a wrong version',
      mutate: (d) => (d['version'] = 2),
      line: '  - version: got 2; expected version: 1',
    },
    {
      name: 'a missing version',
      mutate: (d) => delete d['version'],
      line: '  - version: got nothing (the key is missing); expected version: 1',
    },
    {
      name: 'a region name with capitals',
      mutate: (d) => {
        const regions = mapping(d, 'regions');
        regions['EU-West'] = regions['eu-west'];
      },
      line: '  - regions.EU-West: got "EU-West"; expected a region name: lowercase letters, digits and dashes, e.g. "us-east"',
    },
    {
      name: 'regions written as a list',
      mutate: (d) => (d['regions'] = ['us-east']),
      line: '  - regions: got ["us-east"]; expected a mapping',
    },
    {
      name: 'no regions at all',
      mutate: (d) => {
        d['regions'] = {};
        d['latencies'] = {};
      },
      line: '  - regions: got {}; expected at least one region, e.g. regions.us-east',
    },
    {
      name: 'a latitude out of range',
      mutate: (d) => (mapping(d, 'regions.us-east.location')['lat'] = 95),
      line: '  - regions.us-east.location.lat: got 95; expected a latitude ≤ 90',
    },
    {
      name: 'a latitude that is not a number',
      mutate: (d) => (mapping(d, 'regions.us-east.location')['lat'] = '38.95N'),
      line: '  - regions.us-east.location.lat: got "38.95N"; expected a number',
    },
    {
      name: 'a single broker address instead of a list',
      mutate: (d) => (mapping(d, 'regions.us-east.kafka')['bootstrap'] = '127.0.0.1:11092'),
      line: '  - regions.us-east.kafka.bootstrap: got "127.0.0.1:11092"; expected a list',
    },
    {
      name: 'a broker address without a port',
      mutate: (d) => (mapping(d, 'regions.us-east.kafka')['bootstrap'] = ['127.0.0.1']),
      line: '  - regions.us-east.kafka.bootstrap[0]: got "127.0.0.1"; expected "host:port", e.g. "127.0.0.1:11092"',
    },
    {
      name: 'a search URL that is not http',
      mutate: (d) => (mapping(d, 'regions.us-east.search')['url'] = 'ftp://127.0.0.1:11200'),
      line: '  - regions.us-east.search.url: got "ftp://127.0.0.1:11200"; expected an http(s) URL, e.g. "http://127.0.0.1:11200"',
    },
    {
      name: 'an empty state directory',
      mutate: (d) => (mapping(d, 'runtime')['stateDir'] = ''),
      line: '  - runtime.stateDir: got ""; expected a non-empty string',
    },
    {
      name: 'a heap below the minimum',
      mutate: (d) => (mapping(d, 'runtime')['kafkaHeapMb'] = 64),
      line: '  - runtime.kafkaHeapMb: got 64; expected a number ≥ 128',
    },
    {
      name: 'a fractional timeout',
      mutate: (d) => (mapping(d, 'runtime')['readyTimeoutSec'] = 1.5),
      line: '  - runtime.readyTimeoutSec: got 1.5; expected an integer',
    },
    {
      name: 'a topic name with a space',
      mutate: (d) => (mapping(d, 'topics')['documents'] = 'my docs'),
      line: '  - topics.documents: got "my docs"; expected a Kafka topic name: letters, digits, ".", "_" and "-"',
    },
  ])('rejects $name', ({ mutate, line }) => {
    const doc = base();
    mutate(doc);
    const err = invalid(doc);
    expect(err.message.split('\n')).toContain(line);
    expect(err.message.split('\n')[0]).toMatch(/^Invalid configuration in test\.yaml \(\d+ problems?\):$/);
  });

  it('reports every schema problem at once, counted in the header', () => {
    const doc = base();
    doc['version'] = 2;
    mapping(doc, 'regions.us-east.ports')['ingest'] = 'abc';
    mapping(doc, 'runtime')['colour'] = 'blue';
    const err = invalid(doc);
    const lines = err.message.split('\n');
    expect(lines[0]).toBe('Invalid configuration in test.yaml (3 problems):');
    expect(lines).toHaveLength(4);
    expect(lines).toContain('  - version: got 2; expected version: 1');
    expect(lines).toContain('  - regions.us-east.ports.ingest: got "abc"; expected a port number (integer 1-65535)');
    expect(err.details['source']).toBe('test.yaml');
    expect(err.details['problems']).toHaveLength(3);
  });

  it('reports every cross-check problem at once', () => {
    const doc = base();
    doc['defaultRegion'] = 'us-west';
    mapping(doc, 'regions.eu-west.ports')['search'] = 11010;
    list(doc, 'regions.eu-west.clients.countries').push('US');
    const lines = invalid(doc).message.split('\n');
    expect(lines[0]).toBe('Invalid configuration in test.yaml (3 problems):');
    expect(lines.slice(1).map((l) => l.slice(4, l.indexOf(':')))).toEqual(['defaultRegion', 'regions.eu-west.clients.countries[11]', 'regions.eu-west.ports.search']);
  });

  it('says "1 problem" in the singular', () => {
    const doc = base();
    doc['version'] = 2;
    expect(invalid(doc).message.split('\n')[0]).toBe('Invalid configuration in test.yaml (1 problem):');
  });

  it('does not change the document it was given', () => {
    const doc = base();
    validateDeployment(doc, 'test.yaml', { GEOREPLICA__REGIONS__US_EAST__PORTS__INGEST: '12345' });
    expect(doc).toEqual(base());
  });
});

describe('environment overrides', () => {
  it('sets a value by its path, matching dashes to underscores and ignoring case', () => {
    const d = validateDeployment(base(), 'test.yaml', { GEOREPLICA__REGIONS__US_EAST__PORTS__INGEST: '12345' });
    expect(region(d, 'us-east').ports.ingest).toBe(12345);
    expect(region(d, 'eu-west').ports.ingest).toBe(12010);
  });

  it('parses values as YAML, so lists can be set too', () => {
    const d = validateDeployment(base(), 'test.yaml', {
      GEOREPLICA__REGIONS__EU_WEST__CLIENTS__COUNTRIES: '[IE, GB]',
      GEOREPLICA__RUNTIME__STATE_DIR: '/var/lib/georeplica',
    });
    expect(region(d, 'eu-west').clients.countries).toEqual(['IE', 'GB']);
    expect(d.runtime.stateDir).toBe('/var/lib/georeplica');
  });

  it('ignores variables without the GEOREPLICA__ prefix', () => {
    const d = validateDeployment(base(), 'test.yaml', { GEOREPLICA_CONFIG: 'elsewhere.yaml', REGIONS__US_EAST__PORTS__INGEST: 'abc', PATH: '/usr/bin' });
    expect(region(d, 'us-east').ports.ingest).toBe(11010);
  });

  it.each<{ name: string; env: Record<string, string>; line: string }>([
    {
      name: 'an unknown key',
      env: { GEOREPLICA__REGIONS__US_EAST__PORTS__INGESTT: '12345' },
      line: '  - env GEOREPLICA__REGIONS__US_EAST__PORTS__INGESTT: got "12345"; expected an existing key under regions.us-east.ports (one of: ingest, search, indexer, replicator, router); "INGESTT" matches none',
    },
    {
      name: 'an unknown region',
      env: { GEOREPLICA__REGIONS__US_WEST__PORTS__INGEST: '12345' },
      line: '  - env GEOREPLICA__REGIONS__US_WEST__PORTS__INGEST: got "12345"; expected an existing key under regions (one of: us-east, eu-west, ap-southeast); "US_WEST" matches none',
    },
    {
      name: 'a path through a value that is not a mapping',
      env: { GEOREPLICA__VERSION__MAJOR: '1' },
      line: '  - env GEOREPLICA__VERSION__MAJOR: got "1"; expected version to be a mapping that "MAJOR" can be set in',
    },
    {
      name: 'no path at all',
      env: { GEOREPLICA__: '1' },
      line: '  - env GEOREPLICA__: got "1"; expected a key path after GEOREPLICA__, e.g. GEOREPLICA__REGIONS__US_EAST__PORTS__INGEST',
    },
    {
      name: 'an invalid value, traced to its variable',
      env: { GEOREPLICA__REGIONS__US_EAST__PORTS__INGEST: 'abc' },
      line: '  - regions.us-east.ports.ingest (from GEOREPLICA__REGIONS__US_EAST__PORTS__INGEST): got "abc"; expected a port number (integer 1-65535)',
    },
    {
      name: 'a port clash, traced to its variable',
      env: { GEOREPLICA__REGIONS__EU_WEST__PORTS__SEARCH: '11010' },
      line: '  - regions.eu-west.ports.search (from GEOREPLICA__REGIONS__EU_WEST__PORTS__SEARCH): got 11010; expected a port not used elsewhere; 11010 is already used by regions.us-east.ports.ingest',
    },
    {
      name: 'an invalid list item, traced to the variable that set the list',
      env: { GEOREPLICA__REGIONS__EU_WEST__CLIENTS__NETWORKS: '[10.2.0.0/16, 10.2.0.0]' },
      line: '  - regions.eu-west.clients.networks[1] (from GEOREPLICA__REGIONS__EU_WEST__CLIENTS__NETWORKS): got "10.2.0.0"; expected a CIDR block such as "10.1.0.0/16" or "2001:db8::/32"',
    },
  ])('reports $name', ({ env, line }) => {
    expect(invalid(base(), env).message.split('\n')).toContain(line);
  });

  it('refuses a variable that matches two keys rather than guess', () => {
    const doc = base();
    const regions = mapping(doc, 'regions');
    regions['useast'] = structuredClone(regions['us-east']);
    const lines = invalid(doc, { GEOREPLICA__REGIONS__US_EAST__PORTS__INGEST: '12345' }).message.split('\n');
    expect(lines).toContain('  - env GEOREPLICA__REGIONS__US_EAST__PORTS__INGEST: got "12345"; expected "US_EAST" to name one key under regions; it matches "us-east" and "useast"; set this value in the file instead');
  });
});

describe('the loaded deployment', () => {
  const d = loadDeployment({ path: LOCAL_PATH, env: {} });

  it('is deep-frozen', () => {
    const east = region(d, 'us-east');
    for (const value of [d, d.regions, d.latencies, d.topics, d.runtime, east, east.location, east.clients, east.clients.networks, east.kafka.bootstrap, east.ports]) {
      expect(Object.isFrozen(value)).toBe(true);
    }
    // ES modules run in strict mode, where writing to a frozen object throws.
    expect(() => {
      east.ports.ingest = 1;
    }).toThrow(TypeError);
    expect(() => {
      east.clients.countries.push('FR');
    }).toThrow(TypeError);
    expect(region(d, 'us-east').ports.ingest).toBe(11010);
  });

  it('reads the file named by GEOREPLICA_CONFIG when no path is given', () => {
    expect(loadDeployment({ env: { GEOREPLICA_CONFIG: LOCAL_PATH } })).toEqual(d);
  });

  it('applies overrides from the environment it is given', () => {
    const overridden = loadDeployment({ path: LOCAL_PATH, env: { GEOREPLICA__REGIONS__US_EAST__PORTS__INGEST: '12345' } });
    expect(region(overridden, 'us-east').ports.ingest).toBe(12345);
  });
});

describe('parseDeployment and loadDeployment failures', () => {
  it('gives CONFIG_UNREADABLE for broken YAML, naming the source and the place', () => {
    const err = thrown(() => parseDeployment('version: 1\nregions: [us-east,\ndefaultRegion: us-east\n', 'broken.yaml'));
    expect(err.code).toBe('CONFIG_UNREADABLE');
    const lines = err.message.split('\n');
    expect(lines[0]).toBe('Cannot parse broken.yaml as YAML:');
    expect(lines.length).toBeGreaterThan(1);
    expect(lines[1]).toMatch(/^ {2}- .* at line \d+, column \d+:?$/);
    expect(err.details).toEqual({ source: 'broken.yaml' });
  });

  it('validates YAML that parses', () => {
    expect(parseDeployment(LOCAL_YAML, 'local.yaml')).toEqual(loadDeployment({ path: LOCAL_PATH, env: {} }));
    const err = thrown(() => parseDeployment(LOCAL_YAML.replace('version: 1', 'version: 2'), 'local.yaml'));
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.message).toContain('  - version: got 2; expected version: 1');
  });

  it('gives CONFIG_NOT_FOUND for a missing file, naming the file and how to choose another', () => {
    const path = join(tmpdir(), `georeplica-missing-${process.pid}.yaml`);
    const err = thrown(() => loadDeployment({ path, env: {} }));
    expect(err.code).toBe('CONFIG_NOT_FOUND');
    expect(err.message).toBe(`Cannot read the configuration file ${path}. Pass --config <file> or set GEOREPLICA_CONFIG.`);
    expect(err.details).toEqual({ path });
    expect(err.cause).toBeInstanceOf(Error);
  });
});
