/**
 * Apache Kafka's MirrorMaker 2 in dedicated mode (`org.apache.kafka.connect.mirror.MirrorMaker`,
 * the connect-mirror jar fetched with the brokers), one JVM, configured the way its docs show,
 * with a properties file written per run. Only what this setup needs differs from MM2's
 * defaults (see MM2_NON_DEFAULTS); everything else, producer and consumer settings included,
 * is MM2's own, as users run it.
 *
 * Cluster aliases carry the run id (`us-east-1a2b3c4d`), so every run has its own Connect
 * groups and internal topics (mm2-configs.<alias>.internal, ...), and its copies
 * (`<alias>.<topic>`) never collide with ours (`us-east.<topic>`).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../topology/runtime/paths.ts';
import { javaArgs, kafkaJdk, log4jPath, writeLog4j } from './jvm.ts';
import { spawnReplicator } from './replicator-process.ts';
import type { ReplicatorProcess } from './replicator-process.ts';

export interface Mm2Flow {
  source: string;
  target: string;
  /** Java regex of the source topics to copy. */
  topics: string;
}

export interface Mm2Options {
  runId: string;
  /** Bootstrap servers per region taking part. */
  clusters: Record<string, readonly string[]>;
  flows: readonly Mm2Flow[];
  exactlyOnce: boolean;
  tasksMax: number;
  heapMb: number;
  /** Where the properties, log4j and log files go. */
  dir: string;
  name: string;
}

/** What this benchmark sets that MM2 would otherwise default, and why (also written to the JSON). */
export const MM2_NON_DEFAULTS: Readonly<Record<string, string>> = {
  'clusters / <alias>.bootstrap.servers': 'the regions of the flow(s); aliases carry the run id (own groups and internal topics per run)',
  '<source>-><target>.enabled, .topics': 'only the flow(s) under test, only this run\'s topics',
  'replication.factor and every *.replication.factor': '1: one broker per region (MM2 defaults to 3 for internal topics and -1 for copies)',
  'sync.topic.acls.enabled': 'false: the brokers have no authorizer (avoids an error per sync; no effect on copying)',
  'tasks.max': 'see --mm2-tasks',
  '<target>.exactly.once.source.support': '"enabled" in exactly-once setups (MM2 reads it per target cluster), left unset (disabled) in at-least-once ones',
};

export function aliasOf(region: string, runId: string): string {
  return `${region}-${runId}`;
}

/** MM2's copy of `topic` from `source` under DefaultReplicationPolicy (separator "."). */
export function mm2CopyTopic(source: string, runId: string, topic: string): string {
  return `${aliasOf(source, runId)}.${topic}`;
}

export function mm2Properties(o: Mm2Options): string {
  const regions = Object.keys(o.clusters);
  const lines: string[] = [`# MirrorMaker 2 for georeplica's bench:compare, run ${o.runId}`, `clusters = ${regions.map((r) => aliasOf(r, o.runId)).join(', ')}`];
  for (const r of regions) lines.push(`${aliasOf(r, o.runId)}.bootstrap.servers = ${(o.clusters[r] ?? []).join(',')}`);
  for (const f of o.flows) {
    const pair = `${aliasOf(f.source, o.runId)}->${aliasOf(f.target, o.runId)}`;
    lines.push(`${pair}.enabled = true`, `${pair}.topics = ${f.topics}`);
  }
  if (o.exactlyOnce) for (const t of new Set(o.flows.map((f) => f.target))) lines.push(`${aliasOf(t, o.runId)}.exactly.once.source.support = enabled`);
  lines.push(
    `tasks.max = ${o.tasksMax}`,
    'replication.factor = 1',
    'offset-syncs.topic.replication.factor = 1',
    'heartbeats.topic.replication.factor = 1',
    'checkpoints.topic.replication.factor = 1',
    'config.storage.replication.factor = 1',
    'offset.storage.replication.factor = 1',
    'status.storage.replication.factor = 1',
    'sync.topic.acls.enabled = false',
  );
  return `${lines.join('\n')}\n`;
}

export function startMm2(o: Mm2Options): ReplicatorProcess {
  const props = join(o.dir, `${o.name}.properties`);
  writeFileSync(props, mm2Properties(o));
  const log4j = log4jPath(o.dir, o.name);
  // Client config dumps ("ProducerConfig values: ...") at every (re)start would dwarf the rest.
  writeLog4j(log4j, 'INFO', ['org.apache.kafka.clients.producer.ProducerConfig', 'org.apache.kafka.clients.consumer.ConsumerConfig', 'org.apache.kafka.clients.admin.AdminClientConfig', 'org.apache.kafka.common.config.AbstractConfig', 'org.apache.kafka.connect.runtime.distributed.DistributedConfig']);
  return spawnReplicator({
    kind: 'mm2',
    command: kafkaJdk().java,
    args: javaArgs({ heapMb: o.heapMb, log4jFile: log4j, mainClass: 'org.apache.kafka.connect.mirror.MirrorMaker', args: [props] }),
    cwd: PROJECT_ROOT,
    logFile: join(o.dir, `${o.name}.log`),
  });
}
