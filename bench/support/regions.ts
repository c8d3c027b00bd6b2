/**
 * Regions for a benchmark. A running `georeplica up` (state in .regions) is reused as it is,
 * unless it runs replicator services: those copy every topic (include ".*"), so they would copy
 * the benchmark's topics too, competing with the replicator under test for the same copy topic.
 * Otherwise the benchmark starts its own Kafka brokers, only those of the regions it needs, on
 * shifted ports with their own state directory, and stops them when it is done. It never
 * touches a runtime it did not start (the test suite's .regions/test, CI's .regions/ci).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { validateDeployment } from '../../config/load.ts';
import type { Deployment } from '../../config/schema.ts';
import type { Logger } from '../../core/logger.ts';
import { withPortOffset, withStateDir } from '../../topology/runtime/deployment-variants.ts';
import { requireFetched } from '../../topology/runtime/fetch.ts';
import { LocalRuntime } from '../../topology/runtime/local-runtime.ts';
import { PROJECT_ROOT } from '../../topology/runtime/paths.ts';
import { readState } from '../../topology/runtime/state-file.ts';

export interface BenchRegions {
  deployment: Readonly<Deployment>;
  runtime: LocalRuntime;
  /** How the regions were obtained, for the report. */
  origin: string;
  /** Whether this process started the brokers (and stops them in release()). */
  owned: boolean;
  /** Pids of the brokers of the regions used, to read their JDK from. */
  brokerPids: number[];
  release(): Promise<void>;
}

export interface AcquireOptions {
  regions: readonly string[];
  /** State directory for brokers the benchmark starts itself. */
  stateDir: string;
  portOffset: number;
  /** Leave brokers this process started running at the end. */
  keep: boolean;
  /** Never reuse a running `georeplica up` (.regions): always the benchmark's own brokers. Default false. */
  ownOnly?: boolean;
  log: Logger;
}

/** Healthy running brokers of every region in `regions`, or undefined when one is missing. */
async function runningBrokers(runtime: LocalRuntime, regions: readonly string[]): Promise<number[] | undefined> {
  const status = await runtime.status();
  const pids: number[] = [];
  for (const region of regions) {
    const brokers = status.filter((s) => s.region === region && s.kind === 'kafka');
    if (brokers.length === 0 || brokers.some((b) => b.process !== 'running' || !b.healthy || b.pid === undefined)) return undefined;
    for (const b of brokers) if (b.pid !== undefined) pids.push(b.pid);
  }
  return pids;
}

function listsServers(stateDir: string): boolean {
  const state = readState(join(PROJECT_ROOT, stateDir));
  return state !== undefined && Object.keys(state.servers).length > 0;
}

export async function acquireRegions(o: AcquireOptions): Promise<BenchRegions> {
  if (!o.ownOnly && listsServers('.regions')) {
    const attached = LocalRuntime.attach('.regions', o.log);
    const pids = await runningBrokers(attached, o.regions);
    const services = (await attached.status()).filter((s) => s.kind === 'service' && s.process === 'running').map((s) => s.name);
    if (pids && services.length === 0) return { deployment: attached.deployment, runtime: attached, origin: 'reused the running local runtime (.regions)', owned: false, brokerPids: pids, release: () => Promise.resolve() };
    if (!pids) console.log('.regions/state.json lists servers, but not healthy brokers for every region needed: starting the benchmark\'s own brokers');
    else console.log(`the running local runtime (.regions) runs replicator services (${services.join(', ')}), which would copy the benchmark's topics too: starting the benchmark's own brokers`);
  }
  const base = parseYaml(readFileSync(join(PROJECT_ROOT, 'topology', 'regions.local.yaml'), 'utf8')) as Record<string, unknown>;
  const deployment = validateDeployment(withStateDir(withPortOffset(base, o.portOffset), o.stateDir), 'benchmark deployment');
  // No services: the replicator under test runs in the benchmark's process.
  const runtime = new LocalRuntime({ deployment, stateDir: o.stateDir, services: false, log: o.log });
  requireFetched('kafka');
  const t0 = Date.now();
  const already = await runningBrokers(runtime, o.regions);
  // One region at a time: start() reads and rewrites the runtime's state file.
  if (!already) for (const region of o.regions) await runtime.start(`${region}/kafka`);
  const pids = (await runningBrokers(runtime, o.regions)) ?? [];
  const origin = already ? `reused brokers a previous benchmark left running (${o.stateDir}, ports +${o.portOffset})` : `started its own brokers (${o.stateDir}, ports +${o.portOffset}, ${o.regions.join(' and ')} only, no OpenSearch) in ${((Date.now() - t0) / 1000).toFixed(1)} s`;
  return {
    deployment,
    runtime,
    origin,
    owned: true,
    brokerPids: pids,
    async release() {
      if (o.keep) return;
      for (const region of o.regions) await runtime.stop(`${region}/kafka`).catch((err: unknown) => o.log.warn({ err: (err as Error).message, region }, 'stopping benchmark brokers failed'));
    },
  };
}
