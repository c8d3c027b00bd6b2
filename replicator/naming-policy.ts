/**
 * Which source topics a flow copies and what the copies are called.
 *
 * prefix (the default, as MirrorMaker 2's DefaultReplicationPolicy): us-east's "documents"
 * becomes "us-east.documents" in every other region, and a topic that is itself a copy is
 * never copied again, so an all-to-all mesh cannot loop (and no "a.a.a.topic", KAFKA-9914).
 *
 * identity: the copy keeps the name. Loops are stopped by provenance headers instead: a flow
 * copies only records that were written in its source region (no provenance header yet); a
 * record that arrived by replication is never forwarded, because in a full mesh its origin
 * region sends it to every region directly.
 */
export type NamingKind = 'prefix' | 'identity';

export interface TopicFilterOptions {
  naming: NamingKind;
  include: string;
  exclude: string;
  /** Every region of the topology: a "<region>." prefix marks a copy. */
  regions: readonly string[];
  /** The replicator's own internal topics start with "<instance>.". */
  instance: string;
  /** Replicated whatever include/exclude say: the heartbeat topic, which freshness depends on. */
  alwaysInclude?: readonly string[];
}

export interface NamingPolicy {
  readonly kind: NamingKind;
  /** The copy's name in the target cluster. */
  targetTopic(sourceRegion: string, sourceTopic: string): string;
  /** Whether a source topic is replicated at all. */
  replicates(topic: string): boolean;
  /** For prefix naming: the source region and topic a copy came from, if it is a copy. */
  parseCopy(topic: string): { sourceRegion: string; topic: string } | undefined;
}

const whole = (pattern: string): RegExp => new RegExp(`^(?:${pattern})$`);

export function namingPolicy(o: TopicFilterOptions): NamingPolicy {
  const include = whole(o.include);
  const exclude = whole(o.exclude);
  const regions = [...o.regions].sort((a, b) => b.length - a.length);
  const parseCopy = (topic: string): { sourceRegion: string; topic: string } | undefined => {
    for (const r of regions) if (topic.startsWith(`${r}.`) && topic.length > r.length + 1) return { sourceRegion: r, topic: topic.slice(r.length + 1) };
    return undefined;
  };
  return {
    kind: o.naming,
    targetTopic: (sourceRegion, topic) => (o.naming === 'prefix' ? `${sourceRegion}.${topic}` : topic),
    parseCopy,
    replicates(topic) {
      if (topic.startsWith('__') || topic.startsWith(`${o.instance}.`)) return false;
      if (o.naming === 'prefix' && parseCopy(topic) !== undefined) return false;
      if (o.alwaysInclude?.includes(topic)) return true;
      return include.test(topic) && !exclude.test(topic);
    },
  };
}
