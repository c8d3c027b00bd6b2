/**
 * Keeps a flow's target topics in step with the source: creates each copy with the source's
 * partition count and selected configs, grows partitions when the source grows, creates the
 * offset-sync topic, and reports copies whose config conflicts (those are not copied).
 */
import kafkaJs from '@confluentinc/kafka-javascript';
import type { IAdminClient } from '@confluentinc/kafka-javascript';
import { describeTopicConfigs } from '../core/kafka-protocol/describe-configs.ts';
import type { TopicConfigEntry } from '../core/kafka-protocol/describe-configs.ts';
import type { Admin } from '../core/kafka.ts';
import { kafkaError } from '../core/kafka.ts';
import type { Logger } from '../core/logger.ts';
import type { FlowNames } from './names.ts';
import type { NamingPolicy } from './naming-policy.ts';

/** Configs a copy takes from its source (when the source sets them explicitly). */
export const SYNCED_CONFIGS = ['cleanup.policy', 'retention.ms', 'retention.bytes', 'min.compaction.lag.ms', 'max.compaction.lag.ms', 'delete.retention.ms', 'max.message.bytes'] as const;

export interface SyncedTopic {
  readonly source: string;
  readonly target: string;
  readonly partitions: number;
}

export interface TopicConflict {
  readonly source: string;
  readonly target: string;
  readonly reason: string;
}

export interface SyncResult {
  topics: SyncedTopic[];
  created: string[];
  grown: Array<{ target: string; from: number; to: number }>;
  conflicts: TopicConflict[];
}

export interface TopicSyncOptions {
  sourceRegion: string;
  sourceBootstrap: readonly string[];
  targetBootstrap: readonly string[];
  sourceAdmin: Admin;
  targetAdmin: Admin;
  policy: NamingPolicy;
  names: FlowNames;
  log: Logger;
}

export class TopicSync {
  private readonly o: TopicSyncOptions;
  private rdAdmin: IAdminClient | undefined;

  constructor(o: TopicSyncOptions) {
    this.o = o;
  }

  close(): void {
    this.rdAdmin?.disconnect();
    this.rdAdmin = undefined;
  }

  async syncOnce(): Promise<SyncResult> {
    const { sourceAdmin, targetAdmin, policy } = this.o;
    const result: SyncResult = { topics: [], created: [], grown: [], conflicts: [] };
    let sourceTopics: string[];
    let targetTopics: Set<string>;
    try {
      sourceTopics = (await sourceAdmin.listTopics({ timeout: 5_000 })).filter((t) => policy.replicates(t)).sort();
    } catch (err) {
      throw kafkaError(err, `listing topics of source region ${this.o.sourceRegion}`);
    }
    try {
      targetTopics = new Set(await targetAdmin.listTopics({ timeout: 5_000 }));
    } catch (err) {
      throw kafkaError(err, 'listing topics of the target region');
    }
    if (!targetTopics.has(this.o.names.offsetSyncTopic)) await this.createOffsetSyncTopic();
    if (sourceTopics.length === 0) return result;

    const sourceMeta = await sourceAdmin.fetchTopicMetadata({ topics: sourceTopics, timeout: 5_000 }).catch((err: unknown) => {
      throw kafkaError(err, `reading topic metadata of source region ${this.o.sourceRegion}`);
    });
    const existingTargets = sourceTopics.map((t) => policy.targetTopic(this.o.sourceRegion, t)).filter((t) => targetTopics.has(t));
    const targetMeta = existingTargets.length > 0 ? await targetAdmin.fetchTopicMetadata({ topics: existingTargets, timeout: 5_000 }) : [];
    const targetPartitions = new Map(targetMeta.map((m) => [m.name, m.partitions.length]));
    const missing = sourceTopics.filter((t) => !targetTopics.has(policy.targetTopic(this.o.sourceRegion, t)));
    const needConfigs = [...missing, ...existingTargets.map((t) => this.sourceOf(t))];
    const none = new Map<string, Map<string, TopicConfigEntry>>();
    const sourceConfigs = needConfigs.length > 0 ? await describeTopicConfigs([...this.o.sourceBootstrap], needConfigs, { configNames: [...SYNCED_CONFIGS] }) : none;
    const targetConfigs = existingTargets.length > 0 ? await describeTopicConfigs([...this.o.targetBootstrap], existingTargets, { configNames: ['cleanup.policy'] }) : none;

    for (const meta of sourceMeta) {
      const source = meta.name;
      const target = policy.targetTopic(this.o.sourceRegion, source);
      const partitions = meta.partitions.length;
      // Only what the topic sets itself: broker-level settings of the source cluster stay there.
      const explicit = [...(sourceConfigs.get(source)?.entries() ?? [])].filter(([, v]) => v.source === 'TOPIC_CONFIG' && v.value !== null).map(([name, v]) => ({ name, value: v.value as string }));
      if (!targetTopics.has(target)) {
        await targetAdmin.createTopics({ topics: [{ topic: target, numPartitions: partitions, configEntries: explicit }] }).catch((err: unknown) => {
          // Another replicator process may have created it a moment ago.
          if ((err as { code?: number }).code !== 36) throw kafkaError(err, `creating ${target}`);
        });
        result.created.push(target);
        this.o.log.info({ source, target, partitions, configs: explicit }, 'created target topic');
      } else {
        const have = targetPartitions.get(target) ?? 0;
        if (have < partitions) {
          await this.growPartitions(target, partitions);
          result.grown.push({ target, from: have, to: partitions });
          this.o.log.info({ target, from: have, to: partitions }, 'grew target partitions');
        }
        const sourcePolicy = sourceConfigs.get(source)?.get('cleanup.policy')?.value ?? 'delete';
        const targetPolicy = targetConfigs.get(target)?.get('cleanup.policy')?.value ?? 'delete';
        if (sourcePolicy !== targetPolicy) {
          result.conflicts.push({ source, target, reason: `cleanup.policy is "${targetPolicy}" on the target but "${sourcePolicy}" on the source; fix the target topic's config (or delete it so it is re-created)` });
          continue;
        }
      }
      result.topics.push({ source, target, partitions });
    }
    return result;
  }

  private sourceOf(target: string): string {
    return this.o.policy.parseCopy(target)?.topic ?? target;
  }

  private async createOffsetSyncTopic(): Promise<void> {
    await this.o.targetAdmin
      .createTopics({ topics: [{ topic: this.o.names.offsetSyncTopic, numPartitions: 1, configEntries: [{ name: 'retention.ms', value: String(7 * 24 * 3600 * 1000) }] }] })
      .catch((err: unknown) => {
        if ((err as { code?: number }).code !== 36) throw kafkaError(err, `creating ${this.o.names.offsetSyncTopic}`);
      });
  }

  private growPartitions(topic: string, total: number): Promise<void> {
    // The KafkaJS-style admin has no createPartitions; the librdkafka admin client does.
    this.rdAdmin ??= kafkaJs.AdminClient.create({ 'bootstrap.servers': this.o.targetBootstrap.join(','), 'client.id': `${this.o.names.flowId}-topic-sync` });
    const admin = this.rdAdmin;
    return new Promise((resolve, reject) => {
      admin.createPartitions(topic, total, 10_000, (err) => {
        if (err && err.code !== 37 /* INVALID_PARTITIONS: already grown by a peer */) reject(kafkaError(err, `growing ${topic} to ${total} partitions`));
        else resolve();
      });
    });
  }
}
