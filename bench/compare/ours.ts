/**
 * Our replicator as users run it: `node --import tsx replicator/main.ts --region <target>
 * --config <file>`, one process per target region. The deployment file is written per run: the
 * benchmark regions, plus a replication instance, include regex and heartbeat topic of the run's
 * own, and the mode. Every other replication setting is the shipped default.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Deployment, ReplicationConfig } from '../../config/schema.ts';
import { validateDeployment } from '../../config/load.ts';
import { withProductCadence } from '../support/product-replication.ts';
import { PROJECT_ROOT, TSX_IMPORT } from '../../topology/runtime/paths.ts';
import { spawnReplicator } from './replicator-process.ts';
import type { ReplicatorProcess } from './replicator-process.ts';
import { SERVICE_ENV } from '../../core/service-env.ts';

export interface OursOptions {
  base: Readonly<Deployment>;
  runId: string;
  target: string;
  sources: readonly string[];
  /** Regex over whole source topic names. */
  include: string;
  mode: ReplicationConfig['mode'];
  dir: string;
  name: string;
  /** Extra node flags (profiling), placed before the script. */
  nodeFlags?: readonly string[];
  /** Modules imported after tsx, before the script (the librdkafka statistics preload). */
  preload?: readonly string[];
  env?: NodeJS.ProcessEnv;
}

/** The run's replication instance: names its groups, transactional ids and internal topics. */
export function oursInstance(runId: string): string {
  return `cmprep-${runId}`;
}

export function oursHeartbeatTopic(runId: string): string {
  return `cmp-${runId}-heartbeats`;
}

/** Our copy of `topic` from `source` (prefix naming, the default). */
export function oursCopyTopic(source: string, topic: string): string {
  return `${source}.${topic}`;
}

/** Writes the run's deployment file (JSON is YAML) after validating it as the replicator will. */
export function writeOursConfig(o: Pick<OursOptions, 'base' | 'runId' | 'include' | 'mode' | 'dir' | 'name'>): string {
  const doc = structuredClone(o.base) as unknown as Record<string, unknown>;
  const replicated = {
    ...doc,
    topics: { ...(doc['topics'] as object), heartbeats: oursHeartbeatTopic(o.runId) },
    replication: { ...withProductCadence(doc['replication'] as object), instance: oursInstance(o.runId), include: o.include, mode: o.mode },
  };
  validateDeployment(replicated, 'bench:compare replicator deployment');
  const file = join(o.dir, `${o.name}.deployment.yaml`);
  writeFileSync(file, `${JSON.stringify(replicated, null, 1)}\n`);
  return file;
}

export function startOurs(o: OursOptions): ReplicatorProcess {
  const config = writeOursConfig(o);
  const port = o.base.regions[o.target]?.ports.replicator;
  if (port === undefined) throw new Error(`unknown region ${o.target}`);
  return spawnReplicator({
    kind: 'ours',
    command: process.execPath,
    args: [...(o.nodeFlags ?? []), '--import', TSX_IMPORT, ...(o.preload ?? []).flatMap((m) => ['--import', m]), join(PROJECT_ROOT, 'replicator', 'main.ts'), '--region', o.target, '--config', config, '--sources', o.sources.join(','), '--admin-port', String(port)],
    cwd: PROJECT_ROOT,
    logFile: join(o.dir, `${o.name}.log`),
    env: { ...SERVICE_ENV, ...o.env },
  });
}
