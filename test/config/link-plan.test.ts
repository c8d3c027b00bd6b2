import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { linkPlan, linkPlans, remoteBootstrap } from '../../config/link-plan.ts';
import { validateDeployment } from '../../config/load.ts';
import { withBrokers } from '../../topology/runtime/deployment-variants.ts';

function deployment(linkProxies?: Record<string, unknown>, brokers = 1): ReturnType<typeof validateDeployment> {
  const doc = withBrokers(parseYaml(readFileSync('topology/regions.local.yaml', 'utf8')) as Record<string, unknown>, 'us-east', brokers);
  if (linkProxies) doc['runtime'] = { ...(doc['runtime'] as object), linkProxies };
  return validateDeployment(doc, 'test');
}

describe('link plan', () => {
  it('is off by default: no links, and the replicator dials the remote brokers directly', () => {
    const d = deployment();
    expect(d.runtime.linkProxies).toEqual({ enabled: false, portOffset: 400, latency: 'topology' });
    expect(linkPlans(d)).toEqual([]);
    expect(remoteBootstrap(d, 'us-east', 'eu-west')).toEqual(['127.0.0.1:11092']);
  });

  it('plans one link per ordered pair with listener and proxy ports per source broker and the topology latency', () => {
    const d = deployment({ enabled: true }, 3);
    expect(linkPlans(d).map((p) => p.name)).toEqual(['us-east->eu-west', 'us-east->ap-southeast', 'eu-west->us-east', 'eu-west->ap-southeast', 'ap-southeast->us-east', 'ap-southeast->eu-west']);
    const p = linkPlan(d, 'us-east', 'eu-west');
    expect(p).toMatchObject({
      listenerName: 'FROM_EU_WEST',
      baselineLatencyMs: 38,
      control: { host: '127.0.0.1', port: 11613 },
      brokers: [
        { listener: { host: '127.0.0.1', port: 11512 }, proxy: { host: '127.0.0.1', port: 11612 } },
        { listener: { host: '127.0.0.1', port: 11514 }, proxy: { host: '127.0.0.1', port: 11614 } },
        { listener: { host: '127.0.0.1', port: 11516 }, proxy: { host: '127.0.0.1', port: 11616 } },
      ],
    });
    expect(remoteBootstrap(d, 'us-east', 'eu-west')).toEqual(['127.0.0.1:11612', '127.0.0.1:11614', '127.0.0.1:11616']);
    // The latency of a pair is given once; both directions use it.
    expect(linkPlan(d, 'ap-southeast', 'us-east')?.baselineLatencyMs).toBe(110);
    expect(linkPlan(deployment({ enabled: true, latency: 'none' }), 'ap-southeast', 'us-east')?.baselineLatencyMs).toBe(0);
  });

  it('keeps every port of the plan distinct and below the ephemeral range with the test suite offset', () => {
    const d = deployment({ enabled: true }, 3);
    const ports = linkPlans(d).flatMap((p) => [p.control.port, ...p.brokers.flatMap((b) => [b.listener.port, b.proxy.port])]);
    expect(new Set(ports).size).toBe(ports.length);
    expect(Math.max(...ports) + 16_000).toBeLessThan(32_768);
  });

  it('names a port offset that makes the links collide with another port', () => {
    // +108: eu-west's listener for us-east (12092 + 108) lands on eu-west's OpenSearch (12200).
    expect(() => deployment({ enabled: true, portOffset: 108 })).toThrow(
      'runtime.linkProxies (FROM_US_EAST listener of regions.eu-west.kafka.bootstrap[0]): got 12200; expected a port not used elsewhere; 12200 is already used by regions.eu-west.search.url',
    );
  });

  it('refuses an unknown key and a bad latency mode, naming the field', () => {
    expect(() => deployment({ enabled: true, latency: 'fast' })).toThrow(/runtime\.linkProxies\.latency: got "fast"; expected "topology" or "none"/);
    expect(() => deployment({ enabled: true, ports: 3 })).toThrow(/runtime\.linkProxies\.ports: got "ports"; expected no such key/);
  });
});
