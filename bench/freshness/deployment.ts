/**
 * The deployment of one freshness repeat: the bench regions' deployment with names no other run
 * uses, so repeats never see each other's documents, copies, offsets or transactional ids:
 * its own documents, dead-letter and heartbeat topics (all starting with the prefix the run's
 * replicators include), its own replication instance, index alias and consumer groups.
 * The replication mode and copy interval are the caller's; everything else (batch sizes, intervals) is the deployment's default.
 */
import { randomUUID } from 'node:crypto';
import { validateDeployment } from '../../config/load.ts';
import type { Deployment, ReplicationConfig } from '../../config/schema.ts';

/** Every run's names start with one of these (and nothing else in the bench runtime does). */
export const RUN_PREFIX = 'fresh-';
export const INSTANCE_PREFIX = 'freshrep-';

export interface RunNames {
  /** Every topic, index and group of the run starts with this (or with `instance`). */
  prefix: string;
  /** replication.instance: the replicators' groups, transactional ids and internal topics. */
  instance: string;
  documents: string;
  deadLetter: string;
  heartbeats: string;
  /** The indexers' alias; the index behind it is `<alias>-v1`. */
  alias: string;
  indexerGroup(region: string): string;
}

export interface RunDeployment {
  deployment: Readonly<Deployment>;
  /** The same deployment as a plain document, for child processes to validate again. */
  document: Record<string, unknown>;
  names: RunNames;
}

export function runDeployment(base: Readonly<Deployment>, overrides: Partial<ReplicationConfig> = {}): RunDeployment {
  const id = randomUUID().slice(0, 8);
  const prefix = `${RUN_PREFIX}${id}`;
  const names: RunNames = {
    prefix,
    instance: `${INSTANCE_PREFIX}${id}`,
    documents: `${prefix}-documents`,
    // ".dlq" is in the replicators' default exclude: dead letters stay in their region.
    deadLetter: `${prefix}-documents.dlq`,
    heartbeats: `${prefix}-heartbeats`,
    alias: prefix,
    indexerGroup: (region) => `${prefix}-indexer-${region}`,
  };
  const doc = structuredClone(base) as unknown as Record<string, unknown>;
  const document = {
    ...doc,
    topics: { ...(doc['topics'] as object), documents: names.documents, deadLetter: names.deadLetter, heartbeats: names.heartbeats },
    replication: { ...(doc['replication'] as object), ...overrides, instance: names.instance, include: `${prefix}.*` },
  };
  return { deployment: validateDeployment(document, 'freshness benchmark deployment'), document, names };
}
