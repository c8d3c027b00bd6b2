import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { loadDeployment } from '../config/load.ts';
import { PROJECT_ROOT } from '../topology/runtime/paths.ts';

// `docker-compose config` (installed by scripts/setup.sh) resolves anchors and merges the
// file exactly as Docker would, without needing an engine.
function composeConfig(): { services: Record<string, { ports?: Array<string | { published: number | string; target: number }> }> } {
  const out = execFileSync('docker-compose', ['-f', join(PROJECT_ROOT, 'docker-compose.regions.yml'), 'config'], { encoding: 'utf8' });
  return parseYaml(out) as ReturnType<typeof composeConfig>;
}

function publishedPorts(ports: Array<string | { published: number | string; target: number }> | undefined): number[] {
  return (ports ?? []).map((p) => (typeof p === 'string' ? Number(p.split(':')[0]) : Number(p.published)));
}

describe('docker-compose.regions.yml', () => {
  const compose = composeConfig();
  const deployment = loadDeployment({ path: join(PROJECT_ROOT, 'topology', 'regions.local.yaml'), env: {} });

  it.each(Object.keys(deployment.regions))('has Kafka and OpenSearch for %s on the topology ports', (region) => {
    const r = deployment.regions[region];
    const kafkaPort = Number(r?.kafka.bootstrap[0]?.split(':')[1]);
    const searchPort = Number(new URL(r?.search.url ?? '').port);
    expect(publishedPorts(compose.services[`kafka-${region}`]?.ports)).toEqual([kafkaPort]);
    expect(publishedPorts(compose.services[`opensearch-${region}`]?.ports)).toEqual([searchPort]);
  });

  it('has the shared Redis and NATS', () => {
    expect(Object.keys(compose.services)).toEqual(expect.arrayContaining(['redis', 'nats']));
  });
});
