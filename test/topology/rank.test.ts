import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { validateDeployment } from '../../config/load.ts';
import { rankForClient, rankRegions } from '../../topology/rank.ts';
import { Topology } from '../../topology/topology.ts';
import { thrown } from '../support/errors.ts';

type Mapping = Record<string, unknown>;

const LOCAL_YAML = readFileSync(new URL('../../topology/regions.local.yaml', import.meta.url), 'utf8');

function topology(mutate: (doc: Mapping) => void = () => {}): Topology {
  const doc = parse(LOCAL_YAML) as Mapping;
  mutate(doc);
  return new Topology(validateDeployment(doc, 'test.yaml', {}));
}

function latencies(doc: Mapping, from: string): Mapping {
  const row = (doc['latencies'] as Mapping)[from];
  if (row === null || typeof row !== 'object') throw new Error(`no latencies.${from}`);
  return row as Mapping;
}


const local = topology();
const order = (ranking: ReadonlyArray<{ region: string }>): string[] => ranking.map((r) => r.region);

describe('rankRegions from configured latencies', () => {
  it.each([
    ['us-east', [{ region: 'us-east', latencyMs: 0 }, { region: 'eu-west', latencyMs: 38 }, { region: 'ap-southeast', latencyMs: 110 }]],
    ['eu-west', [{ region: 'eu-west', latencyMs: 0 }, { region: 'us-east', latencyMs: 38 }, { region: 'ap-southeast', latencyMs: 80 }]],
    ['ap-southeast', [{ region: 'ap-southeast', latencyMs: 0 }, { region: 'eu-west', latencyMs: 80 }, { region: 'us-east', latencyMs: 110 }]],
  ])('from %s: own region first at 0 ms, then nearest first', (from, expected) => {
    expect(rankRegions(local, from)).toEqual(expected);
  });

  it('breaks equal latencies by region name', () => {
    const t = topology((d) => {
      latencies(d, 'us-east')['eu-west'] = 50;
      latencies(d, 'us-east')['ap-southeast'] = 50;
    });
    expect(order(rankRegions(t, 'us-east'))).toEqual(['us-east', 'ap-southeast', 'eu-west']);
  });

  it('throws UNKNOWN_REGION for an unknown origin', () => {
    const err = thrown(() => rankRegions(local, 'us-west'));
    expect(err.code).toBe('UNKNOWN_REGION');
    expect(err.message).toContain('Valid regions: us-east, eu-west, ap-southeast.');
  });
});

describe('rankRegions with measured round trips', () => {
  it('lets a degraded link fall behind a farther healthy one, keeping configured latencies in the result', () => {
    // eu-west: 0.5 × 76 + 0.5 × 400 = 238 > ap-southeast: 220.
    const measuredRttMs = new Map([['eu-west', 400]]);
    expect(rankRegions(local, 'us-east', { measuredRttMs })).toEqual([
      { region: 'us-east', latencyMs: 0 },
      { region: 'ap-southeast', latencyMs: 110 },
      { region: 'eu-west', latencyMs: 38 },
    ]);
  });

  it('keeps the configured order when the blend does not overturn it', () => {
    // eu-west: 0.5 × 76 + 0.5 × 300 = 188 < ap-southeast: 220.
    expect(order(rankRegions(local, 'us-east', { measuredRttMs: new Map([['eu-west', 300]]) }))).toEqual(['us-east', 'eu-west', 'ap-southeast']);
  });

  it('with weight 1 orders by the measurements alone', () => {
    const measuredRttMs = new Map([
      ['us-east', 5],
      ['eu-west', 90],
      ['ap-southeast', 80],
    ]);
    expect(order(rankRegions(local, 'us-east', { measuredRttMs, measuredWeight: 1 }))).toEqual(['us-east', 'ap-southeast', 'eu-west']);
  });

  it('with weight 0 ignores the measurements, even an unreachable region', () => {
    const measuredRttMs = new Map([['eu-west', Number.POSITIVE_INFINITY]]);
    expect(order(rankRegions(local, 'us-east', { measuredRttMs, measuredWeight: 0 }))).toEqual(['us-east', 'eu-west', 'ap-southeast']);
  });

  it('puts an unreachable region last', () => {
    const measuredRttMs = new Map([['eu-west', Number.POSITIVE_INFINITY]]);
    expect(order(rankRegions(local, 'us-east', { measuredRttMs }))).toEqual(['us-east', 'ap-southeast', 'eu-west']);
  });

  it('can move a badly degraded home region down', () => {
    // us-east: 0.5 × 0 + 0.5 × 500 = 250 > ap-southeast: 220 and eu-west: 76.
    expect(order(rankRegions(local, 'us-east', { measuredRttMs: new Map([['us-east', 500]]) }))).toEqual(['eu-west', 'ap-southeast', 'us-east']);
  });

  it('ignores measurements for regions outside the topology', () => {
    expect(rankRegions(local, 'us-east', { measuredRttMs: new Map([['us-west', 1]]) })).toEqual(rankRegions(local, 'us-east'));
  });

  it.each([1.5, -0.1, Number.NaN])('rejects the weight %s', (measuredWeight) => {
    const err = thrown(() => rankRegions(local, 'us-east', { measuredRttMs: new Map(), measuredWeight }));
    expect(err.code).toBe('INVALID_ARGUMENT');
    expect(err.message).toBe(`measuredWeight: got ${String(measuredWeight)}; expected a number between 0 and 1`);
  });

  it.each([-1, Number.NaN])('rejects the measurement %s', (rtt) => {
    const err = thrown(() => rankRegions(local, 'us-east', { measuredRttMs: new Map([['eu-west', rtt]]) }));
    expect(err.code).toBe('INVALID_ARGUMENT');
    expect(err.message).toBe(`measuredRttMs.eu-west: got ${String(rtt)}; expected a round-trip time ≥ 0 ms`);
    expect(err.details).toEqual({ field: 'measuredRttMs.eu-west', value: rtt });
  });
});

describe('rankForClient', () => {
  it('resolves the client region, then ranks from it', () => {
    expect(rankForClient(local, { country: 'jp' })).toEqual({
      region: 'ap-southeast',
      reason: 'country',
      ranking: [
        { region: 'ap-southeast', latencyMs: 0 },
        { region: 'eu-west', latencyMs: 80 },
        { region: 'us-east', latencyMs: 110 },
      ],
    });
  });

  it('ranks from the default region when nothing is known', () => {
    const result = rankForClient(local, {});
    expect(result.reason).toBe('default');
    expect(order(result.ranking)).toEqual(['us-east', 'eu-west', 'ap-southeast']);
  });

  it('passes measurements through', () => {
    const result = rankForClient(local, { ip: '10.1.0.7' }, { measuredRttMs: new Map([['eu-west', 400]]) });
    expect(result.reason).toBe('network');
    expect(order(result.ranking)).toEqual(['us-east', 'ap-southeast', 'eu-west']);
  });

  it('propagates an invalid hint', () => {
    expect(thrown(() => rankForClient(local, { lat: 'north', lon: 0 })).code).toBe('INVALID_ARGUMENT');
  });
});
