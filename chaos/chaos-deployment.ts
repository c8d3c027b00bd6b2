/**
 * The runtime `georeplica chaos run` uses when given no --config: the default topology with every
 * port shifted by +16000 (clear of a developer's `up` at +0, the benchmarks at +5000 and the test
 * suite at +10000; the highest port, a link proxy's, stays below 32768), three brokers in
 * us-east, link proxies on, and its own state directory.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { validateDeployment } from '../config/load.ts';
import type { Deployment } from '../config/schema.ts';
import { withBrokers, withPortOffset, withStateDir } from '../topology/runtime/deployment-variants.ts';
import { PROJECT_ROOT } from '../topology/runtime/paths.ts';

export const CHAOS_PORT_OFFSET = 16_000;
export const CHAOS_STATE_DIR = join('.regions', 'chaos');

export function chaosDeploymentDoc(o: { portOffset?: number; stateDir?: string } = {}): Record<string, unknown> {
  const base = parseYaml(readFileSync(join(PROJECT_ROOT, 'topology', 'regions.local.yaml'), 'utf8')) as Record<string, unknown>;
  const doc = withStateDir(withBrokers(withPortOffset(base, o.portOffset ?? CHAOS_PORT_OFFSET), 'us-east', 3), o.stateDir ?? CHAOS_STATE_DIR);
  doc['runtime'] = { ...(doc['runtime'] as Record<string, unknown>), jit: 'quick', linkProxies: { enabled: true } };
  return doc;
}

export function chaosDeployment(o: { portOffset?: number; stateDir?: string } = {}): Readonly<Deployment> {
  return validateDeployment(chaosDeploymentDoc(o), 'the chaos runtime (chaos/chaos-deployment.ts)', process.env);
}
