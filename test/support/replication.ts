/**
 * Per-test replication settings on top of the shared test regions: a unique instance name
 * (so consumer groups, transactional ids and internal topics never collide between tests),
 * a topic prefix the replicator includes, and its own heartbeat topic.
 */
import { onTestFinished } from 'vitest';
import { validateDeployment } from '../../config/load.ts';
import type { Deployment, ReplicationConfig } from '../../config/schema.ts';
import { kafkaClient } from '../../core/kafka.ts';
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
  // After the test and its afterEach hooks (which stop its replicators and stacks).
  onTestFinished(() => deleteTopicsOf(runtime.deployment, [prefix, instance]));
  return { deployment: validateDeployment(doc, 'test replication'), prefix, instance, heartbeats };
}

/**
 * Deletes, in every region, the topics whose names contain one of `marks` (a test's prefix and
 * replication instance: its topics, copies and internal topics). Brokers restarted by later
 * tests then recover fewer partitions, and the clusters stay light for the rest of the suite.
 * Best effort, and bounded: a region that is down is left as it is.
 */
export async function deleteTopicsOf(d: Readonly<Deployment>, marks: readonly string[]): Promise<void> {
  await Promise.all(
    Object.values(d.regions).map(async (r) => {
      const admin = kafkaClient({ bootstrap: r.kafka.bootstrap, clientId: 'test-cleanup' }).admin();
      let timer: NodeJS.Timeout | undefined;
      const work = (async () => {
        await admin.connect();
        const topics = (await admin.listTopics({ timeout: 5_000 })).filter((t) => marks.some((m) => t.includes(m)));
        if (topics.length > 0) await admin.deleteTopics({ topics, timeout: 10_000 });
      })().catch(() => undefined);
      await Promise.race([work, new Promise((resolve) => (timer = setTimeout(resolve, 15_000)))]);
      clearTimeout(timer);
      await admin.disconnect().catch(() => undefined);
    }),
  );
}
