/**
 * A link proxy (topology/link-proxy/) as a runtime server: one Node process per ordered region
 * pair, named `link/<source>-><target>`, reading the runtime's effective deployment like the
 * services do. It needs nothing else to start: it listens at once and dials the source brokers
 * per connection.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { LinkPlan } from '../../config/link-plan.ts';
import type { Deployment } from '../../config/schema.ts';
import { describeFaults } from '../link-proxy/link-faults.ts';
import type { LinkFaults } from '../link-proxy/link-faults.ts';
import { PROJECT_ROOT, TSX_IMPORT } from './paths.ts';
import { getJson } from './probes.ts';
import { stateMarker } from './server-spec.ts';
import type { ServerSpec } from './server-spec.ts';
import { deploymentFile } from './service-server.ts';

/** The pseudo-region of link proxies: `resolve('link')` names all of them. */
export const LINK_GROUP = 'link';

export function linkServerName(plan: Pick<LinkPlan, 'name'>): string {
  return `${LINK_GROUP}/${plan.name}`;
}

export function linkServerSpec(o: { plan: LinkPlan; stateDir: string; deployment: Readonly<Deployment> }): ServerSpec {
  const dir = join(o.stateDir, LINK_GROUP, `${o.plan.source}--${o.plan.target}`);
  const base = `http://${o.plan.control.host}:${o.plan.control.port}`;
  return {
    name: linkServerName(o.plan),
    region: LINK_GROUP,
    kind: 'link',
    command: process.execPath,
    args: ['--import', TSX_IMPORT, join(PROJECT_ROOT, 'topology', 'link-proxy', 'main.ts'), '--link', o.plan.name, '--config', deploymentFile(o.stateDir), `--${stateMarker(o.stateDir)}`],
    env: { GEOREPLICA_LOG_LEVEL: process.env['GEOREPLICA_LOG_LEVEL'] ?? 'info' },
    dir,
    logFile: join(dir, 'proxy.log'),
    ports: [...o.plan.brokers.map((b) => b.proxy.port), o.plan.control.port],
    endpoint: o.plan.brokers.map((b) => `${b.proxy.host}:${b.proxy.port}`).join(','),
    prepare() {
      mkdirSync(dir, { recursive: true });
      writeFileSync(deploymentFile(o.stateDir), stringify(o.deployment));
      return Promise.resolve();
    },
    async probeReady() {
      return (await getJson(`${base}/health`, 1_000)) !== undefined;
    },
    async probeHealth() {
      const h = (await getJson(`${base}/health`, 1_000)) as { faults?: LinkFaults; connections?: number } | undefined;
      if (!h?.faults) return { ok: false, detail: 'no answer on /health' };
      return { ok: true, detail: `${describeFaults(h.faults)}; ${h.connections ?? 0} connections` };
    },
  };
}
