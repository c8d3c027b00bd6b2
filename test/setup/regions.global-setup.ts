/**
 * Starts the three test regions once per `vitest run` and stops them at the end.
 * Set GEOREPLICA_TEST_REUSE=1 to keep them running between runs while developing
 * (`up` is idempotent, so the next run reuses them).
 */
import type { TestProject } from 'vitest/node';
import { createLogger } from '../../core/logger.ts';
import { fetchAll } from '../../topology/runtime/fetch.ts';
import { LocalRuntime } from '../../topology/runtime/local-runtime.ts';
import { TEST_STATE_DIR, testDeployment } from './test-deployment.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    regionsStateDir: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const log = createLogger({ name: 'test-regions', level: 'warn' });
  const reuse = process.env['GEOREPLICA_TEST_REUSE'] === '1';
  fetchAll(log);
  const runtime = new LocalRuntime({ deployment: testDeployment(), stateDir: TEST_STATE_DIR, services: false, log });
  if (!reuse) await runtime.down({ purge: true });
  const t0 = Date.now();
  const res = await runtime.up();
  console.log(`[regions] ${res.started.length} servers started, ${res.alreadyRunning.length} reused, in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  project.provide('regionsStateDir', TEST_STATE_DIR);
  return async () => {
    if (!reuse) await runtime.down({ purge: true });
  };
}
