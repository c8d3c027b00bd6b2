/**
 * Benchmarks that run a service in their own process must give it the environment the service
 * gets when deployed (core/service-env.ts), or they measure something else: UV_THREADPOOL_SIZE,
 * for one, only takes effect at process start. This re-runs the benchmark once with it.
 */
import { spawnSync } from 'node:child_process';
import { SERVICE_ENV } from '../../core/service-env.ts';

/** Returns when the environment is already complete; otherwise runs this process again with it and exits with its code. */
export function ensureServiceEnv(): void {
  const missing = Object.keys(SERVICE_ENV).filter((k) => process.env[k] === undefined);
  if (missing.length === 0) return;
  const r = spawnSync(process.execPath, [...process.execArgv, ...process.argv.slice(1)], { stdio: 'inherit', env: { ...process.env, ...SERVICE_ENV } });
  process.exit(r.status ?? 1);
}
