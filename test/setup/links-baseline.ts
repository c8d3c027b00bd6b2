/**
 * After every integration test file: every link proxy back at its baseline. A test that left a
 * link faulty (a failed assertion before its clear, a fault whose answer was lost) would
 * otherwise break every later file that replicates through it, far from the cause. The file
 * that left it is named on stderr.
 */
import { isDeepStrictEqual } from 'node:util';
import { afterAll } from 'vitest';
import { linkPlans } from '../../config/link-plan.ts';
import { noFaults } from '../../topology/link-proxy/link-faults.ts';
import { testRuntime } from '../support/regions.ts';

afterAll(async () => {
  const runtime = testRuntime();
  for (const plan of linkPlans(runtime.deployment)) {
    const faults = await runtime.link(plan.source, plan.target).catch(() => undefined);
    if (faults === undefined || isDeepStrictEqual(faults, noFaults(plan.baselineLatencyMs))) continue;
    console.warn(`[links] ${plan.source}->${plan.target} was left faulty by this file (${JSON.stringify(faults)}); back to its baseline`);
    await runtime.link(plan.source, plan.target, 'clear');
  }
});
