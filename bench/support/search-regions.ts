/**
 * Whole regions for a benchmark that needs Kafka and OpenSearch in every region (bench:freshness).
 * Always the benchmark's own runtime (`.regions/bench` by default, ports shifted +5000), never a
 * developer's `georeplica up` or the test suite's: those run services of their own (replicators
 * copying every topic, indexers), which would compete with the services under test and copy the
 * benchmark's topics. Servers already running there are reused; the ones this process starts are
 * stopped at the end unless `keep`.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { validateDeployment } from '../../config/load.ts';
import type { Deployment } from '../../config/schema.ts';
import type { Logger } from '../../core/logger.ts';
import { withPortOffset, withStateDir } from '../../topology/runtime/deployment-variants.ts';
import { requireFetched } from '../../topology/runtime/fetch.ts';
import { LocalRuntime } from '../../topology/runtime/local-runtime.ts';
import { PROJECT_ROOT } from '../../topology/runtime/paths.ts';

/** State directories of runtimes a benchmark must never start, reuse or stop. */
export const FOREIGN_STATE_DIRS: readonly string[] = ['.regions', '.regions/test', '.regions/ci'].map((d) => resolve(PROJECT_ROOT, d));

export interface SearchRegions {
  deployment: Readonly<Deployment>;
  runtime: LocalRuntime;
  /** How the servers were obtained, for the report. */
  origin: string;
  /** Pids of the Kafka brokers and OpenSearch nodes, by server name. */
  pids: Record<string, number>;
  /** The servers this call started (the others were running already): their JVMs are cold. */
  started: readonly string[];
  release(): Promise<void>;
}

export async function acquireSearchRegions(o: { stateDir: string; portOffset: number; keep: boolean; log: Logger }): Promise<SearchRegions> {
  if (FOREIGN_STATE_DIRS.includes(resolve(PROJECT_ROOT, o.stateDir))) throw new Error(`--state-dir ${o.stateDir} belongs to another runtime; use a directory of the benchmark's own (default .regions/bench)`);
  const base = parseYaml(readFileSync(join(PROJECT_ROOT, 'topology', 'regions.local.yaml'), 'utf8')) as Record<string, unknown>;
  const deployment = validateDeployment(withStateDir(withPortOffset(base, o.portOffset), o.stateDir), 'benchmark deployment');
  // No services: the services under test are started by the benchmark with names of their own.
  const runtime = new LocalRuntime({ deployment, stateDir: o.stateDir, services: false, log: o.log });
  requireFetched('kafka');
  requireFetched('opensearch');
  const t0 = Date.now();
  const before = await runtime.status();
  const healthy = new Set(before.filter((s) => s.process === 'running' && s.healthy).map((s) => s.name));
  const missing = before.filter((s) => !healthy.has(s.name)).map((s) => s.name);
  // One region at a time: start() reads and rewrites the runtime's state file.
  for (const region of Object.keys(deployment.regions)) {
    if (missing.some((name) => name.startsWith(`${region}/`))) await runtime.start(region);
  }
  const after = await runtime.status();
  const unhealthy = after.filter((s) => s.process !== 'running' || !s.healthy);
  if (unhealthy.length > 0) throw new Error(`bench runtime ${o.stateDir}: not healthy: ${unhealthy.map((s) => `${s.name} (${s.detail})`).join(', ')}`);
  const pids = Object.fromEntries(after.flatMap((s) => (s.pid === undefined ? [] : [[s.name, s.pid] as const])));
  const origin =
    missing.length === 0
      ? `reused the servers running in ${o.stateDir} (ports +${o.portOffset})`
      : `${o.stateDir} (ports +${o.portOffset}): started ${missing.join(', ')} in ${((Date.now() - t0) / 1000).toFixed(1)} s${healthy.size > 0 ? `, reused ${[...healthy].join(', ')}` : ''}`;
  return {
    deployment,
    runtime,
    origin,
    pids,
    started: missing,
    async release() {
      if (o.keep) return;
      for (const name of missing) await runtime.stop(name).catch((err: unknown) => o.log.warn({ err: (err as Error).message, server: name }, 'stopping a benchmark server failed'));
    },
  };
}
