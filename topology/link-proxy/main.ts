/**
 * The link proxy process of one ordered region pair: `node --import tsx topology/link-proxy/main.ts
 * --link us-east->eu-west [--config f]`. Ports, upstream listeners and the baseline latency come
 * from the deployment (config/link-plan.ts). SIGTERM and SIGINT: the control API closes, every
 * proxied connection is closed, the listeners close, and the process exits 0.
 */
import { parseArgs } from 'node:util';
import { linkPlans } from '../../config/link-plan.ts';
import { loadDeployment } from '../../config/load.ts';
import { GeoError } from '../../core/errors.ts';
import { createLogger } from '../../core/logger.ts';
import { drainOnSignals, exitOnStartupFailure } from '../../core/process-lifecycle.ts';
import { buildControlApi } from './control-api.ts';
import { noFaults } from './link-faults.ts';
import { LinkMetrics } from './link-metrics.ts';
import { LinkProxy } from './link-proxy.ts';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      link: { type: 'string' },
      config: { type: 'string' },
      // Marker the local runtime puts on processes it starts (see topology/runtime/server-spec.ts).
      'georeplica-state': { type: 'string' },
    },
  });
  const deployment = loadDeployment(values.config ? { path: values.config } : {});
  const plans = linkPlans(deployment);
  const plan = plans.find((p) => p.name === values.link);
  if (!plan) {
    const known = plans.map((p) => p.name).join(', ') || '(none: runtime.linkProxies.enabled is false)';
    throw new GeoError('INVALID_ARGUMENT', `--link: got ${JSON.stringify(values.link ?? '')}; expected one of the deployment's links: ${known}.`);
  }
  const log = createLogger({ name: 'link-proxy' });
  const proxy = new LinkProxy({
    name: plan.name,
    routes: plan.brokers.map((b) => ({ listen: b.proxy, upstream: b.listener })),
    baseline: noFaults(plan.baselineLatencyMs),
    log,
    metrics: new LinkMetrics({ defaultMetrics: true }),
  });
  await proxy.start();
  const api = buildControlApi({ proxy, token: deployment.admin.token, log });
  await api.listen({ port: plan.control.port, host: plan.control.host });
  log.info({ link: plan.name, control: plan.control.port }, 'link proxy control API listening');

  drainOnSignals({
    log,
    limitMs: 10_000,
    drain: async () => {
      await api.close();
      await proxy.close();
    },
  });
}

main().catch(exitOnStartupFailure('link-proxy'));
