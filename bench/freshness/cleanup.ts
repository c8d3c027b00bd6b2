/**
 * Removes what one repeat left in the regions: every topic and consumer group whose name starts
 * with the run's prefix or replication instance (copies too: `<region>.<prefix>…`), and every
 * index starting with the prefix. Transactional ids cannot be deleted; Kafka expires them.
 * `--clean-leftovers` uses the same with the prefixes every run's names start with, after a run
 * was interrupted before its own cleanup.
 */
import { Client } from '@opensearch-project/opensearch';
import type { Deployment } from '../../config/schema.ts';
import type { Admin } from '../../core/kafka.ts';
import type { RunDeployment } from './deployment.ts';
import { INSTANCE_PREFIX, RUN_PREFIX } from './deployment.ts';

export interface CleanupResult {
  topics: number;
  groups: number;
  indices: number;
  errors: string[];
}

export function cleanupRun(run: RunDeployment, admins: ReadonlyMap<string, Admin>): Promise<CleanupResult> {
  return cleanupNames([run.names.prefix, run.names.instance], run.deployment, admins);
}

/** Every run's leftovers: names starting with the prefixes all runs' names start with. */
export function cleanupLeftovers(deployment: Readonly<Deployment>, admins: ReadonlyMap<string, Admin>): Promise<CleanupResult> {
  return cleanupNames([RUN_PREFIX, INSTANCE_PREFIX], deployment, admins);
}

async function cleanupNames(prefixes: readonly string[], deployment: Readonly<Deployment>, admins: ReadonlyMap<string, Admin>): Promise<CleanupResult> {
  const regions = Object.keys(deployment.regions);
  const ours = (name: string): boolean => prefixes.some((p) => name.startsWith(p) || regions.some((r) => name.startsWith(`${r}.${p}`)));
  const [prefix] = prefixes;
  const out: CleanupResult = { topics: 0, groups: 0, indices: 0, errors: [] };
  await Promise.all(
    regions.map(async (region) => {
      const admin = admins.get(region);
      if (admin) {
        try {
          const groups = (await admin.listGroups()).groups.map((g) => g.groupId).filter(ours);
          if (groups.length > 0) await admin.deleteGroups(groups);
          out.groups += groups.length;
        } catch (err) {
          out.errors.push(`${region} groups: ${(err as Error).message}`);
        }
        try {
          const topics = (await admin.listTopics()).filter(ours);
          if (topics.length > 0) await admin.deleteTopics({ topics, timeout: 30_000 });
          out.topics += topics.length;
        } catch (err) {
          out.errors.push(`${region} topics: ${(err as Error).message}`);
        }
      }
      const url = deployment.regions[region]?.search.url;
      if (!url) return;
      const client = new Client({ node: url, requestTimeout: 60_000 });
      try {
        const res = await client.cat.indices({ index: `${prefix}*`, format: 'json' });
        const indices = (res.body as Array<{ index: string }>).map((i) => i.index).filter(ours);
        if (indices.length > 0) await client.indices.delete({ index: indices.join(',') });
        out.indices += indices.length;
      } catch (err) {
        out.errors.push(`${region} indices: ${(err as Error).message}`);
      } finally {
        await client.close().catch(() => undefined);
      }
    }),
  );
  return out;
}
