/** Names of everything a replicator instance owns in Kafka, derived from one instance name. */
export interface FlowNames {
  readonly flowId: string;
  /** Consumer group on the source cluster that spreads partitions over replicator processes. */
  readonly sourceGroup: string;
  /** Group on the target cluster whose transactional offsets are the checkpoints. */
  readonly checkpointGroup: string;
  /** Target-cluster topic recording source offset ↔ target offset, for offset translation. */
  readonly offsetSyncTopic: string;
  transactionalId(topic: string, partition: number): string;
}

export function flowNames(instance: string, source: string, target: string): FlowNames {
  const flowId = `${source}->${target}`;
  return {
    flowId,
    sourceGroup: `${instance}.${source}.to.${target}`,
    checkpointGroup: `${instance}.checkpoints.${source}`,
    offsetSyncTopic: `${instance}.offset-syncs.${source}`,
    // One transactional id per source partition: whoever owns the partition next reuses it,
    // and initialising it fences the previous owner (a paused "zombie") for good.
    transactionalId: (topic, partition) => `${instance}.${source}.to.${target}.${topic}.${partition}`,
  };
}
