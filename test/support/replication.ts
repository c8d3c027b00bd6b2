/**
 * Per-test replication settings on top of the shared test regions: a unique instance name
 * (so consumer groups, transactional ids and internal topics never collide between tests),
 * a topic prefix the replicator includes, and its own heartbeat topic.
 */
import { validateDeployment } from '../../config/load.ts';
import type { Deployment, ReplicationConfig } from '../../config/schema.ts';
import type { LocalRuntime } from '../../topology/runtime/local-runtime.ts';
import { uniqueName } from './names.ts';

export interface TestReplication {
  deployment: Readonly<Deployment>;
  /** Topics whose names start with this are replicated by this test's replicators. */
  prefix: string;
  instance: string;
  heartbeats: string;
}

export function testReplication(runtime: LocalRuntime, overrides: Partial<ReplicationConfig> = {}): TestReplication {
  const prefix = uniqueName('t');
  const instance = uniqueName('gr');
  const heartbeats = `${prefix}-heartbeats`;
  const base = structuredClone(runtime.deployment) as unknown as Record<string, unknown>;
  const doc = {
    ...base,
    topics: { ...(base['topics'] as object), heartbeats },
    replication: {
      ...(base['replication'] as object),
      instance,
      include: `${prefix}.*`,
      topicSyncIntervalMs: 1_000,
      maxBackoffMs: 2_000,
      ...overrides,
    },
  };
  return { deployment: validateDeployment(doc, 'test replication'), prefix, instance, heartbeats };
}
