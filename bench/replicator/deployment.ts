/**
 * The replicator deployment of one benchmark run: the regions' deployment with a unique
 * replication instance (consumer groups, transactional ids and internal topics of its own),
 * a topic prefix only this run's replicator includes, its own heartbeat topic and the mode.
 */
import { randomUUID } from 'node:crypto';
import { validateDeployment } from '../../config/load.ts';
import type { Deployment, ReplicationConfig } from '../../config/schema.ts';
import { withProductCadence } from '../support/product-replication.ts';

export interface RunReplication {
  deployment: Readonly<Deployment>;
  /** Source topics named `${prefix}.<name>` are copied by this run's replicator. */
  prefix: string;
  instance: string;
  heartbeats: string;
}

export function runReplication(base: Readonly<Deployment>, overrides: Partial<ReplicationConfig>): RunReplication {
  const id = randomUUID().slice(0, 8);
  // Distinct from the prefix: topics starting with "<instance>." are the replicator's own and never copied.
  const prefix = `bench-${id}`;
  const instance = `benchrep-${id}`;
  const heartbeats = `${prefix}-heartbeats`;
  const doc = structuredClone(base) as unknown as Record<string, unknown>;
  const replicated = {
    ...doc,
    topics: { ...(doc['topics'] as object), heartbeats },
    replication: { ...withProductCadence(doc['replication'] as object), instance, include: `${prefix}\\..*`, topicSyncIntervalMs: 1_000, ...overrides },
  };
  return { deployment: validateDeployment(replicated, 'benchmark replication'), prefix, instance, heartbeats };
}
