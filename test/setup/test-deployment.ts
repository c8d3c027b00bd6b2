/**
 * The deployment the test suite runs on: the default three regions with every port shifted
 * by +10000 (so a developer's `georeplica up` can keep running), three brokers in us-east
 * (for broker-loss tests) and its own state directory.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { validateDeployment } from '../../config/load.ts';
import type { Deployment } from '../../config/schema.ts';
import { withBrokers, withPortOffset, withStateDir } from '../../topology/runtime/deployment-variants.ts';
import { PROJECT_ROOT } from '../../topology/runtime/paths.ts';

// Both can be moved so that two suites (say, a CI dry run beside a developer's run) coexist.
export const TEST_STATE_DIR = process.env['GEOREPLICA_TEST_STATE_DIR'] ?? join(PROJECT_ROOT, '.regions', 'test');
export const TEST_PORT_OFFSET = Number(process.env['GEOREPLICA_TEST_PORT_OFFSET'] ?? 10_000);
export const THREE_BROKER_REGION = 'us-east';
/**
 * Link proxies between the regions (docs/CHAOS.md), with the topology's latencies: replication in
 * the tests crosses them as it does in a real deployment, and the chaos subset's link faults need
 * them. GEOREPLICA_TEST_LINK_PROXIES=0 leaves them out (faster local runs; those tests skip).
 */
export const TEST_LINK_PROXIES = process.env['GEOREPLICA_TEST_LINK_PROXIES'] !== '0';

export function testDeploymentDoc(): Record<string, unknown> {
  const base = parseYaml(readFileSync(join(PROJECT_ROOT, 'topology', 'regions.local.yaml'), 'utf8')) as Record<string, unknown>;
  const doc = withStateDir(withBrokers(withPortOffset(base, TEST_PORT_OFFSET), THREE_BROKER_REGION, 3), TEST_STATE_DIR);
  // Quick JIT: the suite restarts brokers and search nodes many times on two cores; each start costs half the CPU.
  doc['runtime'] = { ...(doc['runtime'] as Record<string, unknown>), jit: 'quick', ...(TEST_LINK_PROXIES ? { linkProxies: { enabled: true } } : {}) };
  return doc;
}

export function testDeployment(): Readonly<Deployment> {
  return validateDeployment(testDeploymentDoc(), 'test deployment');
}
