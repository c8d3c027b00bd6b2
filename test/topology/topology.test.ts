import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadDeployment } from '../../config/load.ts';
import { Topology } from '../../topology/topology.ts';
import { thrown } from '../support/errors.ts';

const topology = new Topology(loadDeployment({ path: fileURLToPath(new URL('../../topology/regions.local.yaml', import.meta.url)), env: {} }));
const NAMES = ['us-east', 'eu-west', 'ap-southeast'];


describe('Topology', () => {
  it('lists the regions in file order with the default region', () => {
    expect(topology.names).toEqual(NAMES);
    expect(topology.defaultRegion).toBe('us-east');
    expect(topology.has('eu-west')).toBe(true);
    expect(topology.has('us-west')).toBe(false);
  });

  it('looks a region up by name with its configuration', () => {
    const r = topology.region('eu-west');
    expect(r.name).toBe('eu-west');
    expect(r.location).toEqual({ lat: 53.35, lon: -6.26 });
    expect(r.ports.router).toBe(12050);
  });

  it('is immutable', () => {
    expect(Object.isFrozen(topology.regions)).toBe(true);
    expect(Object.isFrozen(topology.region('us-east'))).toBe(true);
    expect(Object.isFrozen(topology.region('us-east').ports)).toBe(true);
  });

  it('gives a latency of 0 from a region to itself', () => {
    for (const name of NAMES) expect(topology.latencyMs(name, name)).toBe(0);
  });

  it('gives symmetric latencies, whichever way the pair was written', () => {
    for (const a of NAMES) for (const b of NAMES) expect(topology.latencyMs(a, b)).toBe(topology.latencyMs(b, a));
    expect(topology.latencyMs('us-east', 'eu-west')).toBe(38);
    expect(topology.latencyMs('ap-southeast', 'us-east')).toBe(110);
    expect(topology.latencyMs('ap-southeast', 'eu-west')).toBe(80);
  });

  it('has 6 replication flows for three regions: every ordered pair, none to itself', () => {
    const flows = topology.flows();
    expect(flows).toHaveLength(6);
    expect(flows.every((f) => f.source !== f.target)).toBe(true);
    expect(new Set(flows.map((f) => `${f.source}>${f.target}`)).size).toBe(6);
    expect(flows).toContainEqual({ source: 'eu-west', target: 'us-east' });
    expect(flows).toContainEqual({ source: 'us-east', target: 'eu-west' });
  });

  it('refuses an unknown region with UNKNOWN_REGION naming the valid ones', () => {
    const err = thrown(() => topology.region('us-west'));
    expect(err.code).toBe('UNKNOWN_REGION');
    expect(err.retriable).toBe(false);
    expect(err.message).toBe('Unknown region "us-west". Valid regions: us-east, eu-west, ap-southeast.');
    expect(err.details).toEqual({ region: 'us-west', valid: NAMES });
  });

  it('refuses a latency involving an unknown region, from either side', () => {
    expect(thrown(() => topology.latencyMs('us-west', 'us-east')).code).toBe('UNKNOWN_REGION');
    expect(thrown(() => topology.latencyMs('us-east', 'us-west')).code).toBe('UNKNOWN_REGION');
    expect(thrown(() => topology.latencyMs('us-west', 'us-west')).code).toBe('UNKNOWN_REGION');
  });
});
