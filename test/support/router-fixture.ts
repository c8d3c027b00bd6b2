/**
 * Routers for tests: each test gets its own drain bucket and cache key prefix (so tests never
 * see each other's drains or cached answers) and fast probe and ejection timings; every router
 * is closed after the test, pass or fail. The bucket is deleted afterwards.
 */
import { Kvm } from '@nats-io/kv';
import { connect } from '@nats-io/transport-node';
import { afterEach } from 'vitest';
import type { Deployment, RouterConfig } from '../../config/schema.ts';
import { createLogger } from '../../core/logger.ts';
import { buildRouterApi } from '../../services/router/router-api.ts';
import type { RouterApi, RouterApiOptions } from '../../services/router/router-api.ts';
import { uniqueName } from './names.ts';

export const routerLog = createLogger({ name: 'test-router', level: process.env['TEST_LOG_LEVEL'] ?? 'warn' });

export type SettingsOverride = { [K in keyof RouterConfig]?: RouterConfig[K] extends object ? Partial<RouterConfig[K]> : RouterConfig[K] };

/**
 * Fast timings for tests: probes every 50 ms, ejections of 500 ms. Tries get a second: on this
 * shared 2-core machine even an in-memory endpoint can take hundreds of ms to answer under load.
 */
export const FAST: SettingsOverride = {
  probe: { intervalMs: 50, timeoutMs: 500, rise: 2, fall: 2 },
  outlier: { consecutiveErrors: 3, baseEjectionMs: 500, maxEjectionMs: 5_000 },
  perTryTimeoutMs: 1_000,
  deadlineMs: 3_000,
  slowStartMs: 1_000,
};

export function mergeSettings(base: Readonly<RouterConfig>, ...overrides: SettingsOverride[]): RouterConfig {
  const out = structuredClone(base) as RouterConfig;
  for (const o of overrides) {
    for (const [k, v] of Object.entries(o)) {
      const key = k as keyof RouterConfig;
      const current = out[key];
      (out as Record<string, unknown>)[key] = v !== null && typeof v === 'object' && typeof current === 'object' ? { ...current, ...v } : v;
    }
  }
  return out;
}

export function useRouters(): {
  /** A fresh bucket and key prefix; pass the same one to routers that must share drain state. */
  namespace(): SettingsOverride;
  build(o: Omit<RouterApiOptions, 'log' | 'settings'> & { settings?: SettingsOverride[] }): Promise<RouterApi>;
  /** Closes one router now (as a restart would), keeping the others. */
  close(api: RouterApi): Promise<void>;
} {
  const open: RouterApi[] = [];
  const buckets = new Set<string>();
  afterEach(async () => {
    await Promise.all(open.splice(0).map((a) => a.close()));
    if (buckets.size === 0) return;
    const nc = await connect({ servers: '127.0.0.1:4222' });
    const kvm = new Kvm(nc);
    for (const b of buckets) await (await kvm.open(b)).destroy().catch(() => undefined);
    buckets.clear();
    await nc.close();
  });
  return {
    namespace() {
      const id = uniqueName('router-test');
      buckets.add(id);
      return { nats: { bucket: id }, redis: { keyPrefix: `${id}:` } };
    },
    async build(o) {
      const own = o.settings?.some((s) => s.nats?.bucket !== undefined) ? [] : [this.namespace()];
      const settings = mergeSettings((o.deployment as Deployment).router, FAST, ...own, ...(o.settings ?? []));
      const api = await buildRouterApi({ ...o, log: routerLog, settings });
      open.push(api);
      return api;
    },
    async close(api) {
      open.splice(open.indexOf(api), 1);
      await api.close();
    },
  };
}
