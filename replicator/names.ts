/** Names of everything a replicator instance owns in Kafka, derived from one instance name. */
export interface FlowNames {
  readonly flowId: string;
  /** Names the flow's source consumer to the source cluster (it joins no group: the checkpoint group assigns). */
  readonly sourceGroup: string;
  /**
   * Group on the target cluster that spreads the flow's partitions over replicator processes
   * (its members subscribe to the copies, which have the source's partitions) and whose
   * transactional offsets are the checkpoints.
   */
  readonly checkpointGroup: string;
  /** Target-cluster topic recording source offset ↔ target offset, for offset translation. */
  readonly offsetSyncTopic: string;
  /** Every transactional id of the flow starts with this. */
  readonly transactionalIdPrefix: string;
  /** The transactional id of one process's copier (`member`: unique per process). */
  transactionalId(member: string): string;
}

export function flowNames(instance: string, source: string, target: string): FlowNames {
  const flowId = `${source}->${target}`;
  return {
    flowId,
    sourceGroup: `${instance}.${source}.to.${target}`,
    checkpointGroup: `${instance}.checkpoints.${source}`,
    offsetSyncTopic: `${instance}.offset-syncs.${source}`,
    transactionalIdPrefix: `${instance}.${source}.to.${target}.`,
    // One per process: a zombie is fenced by the checkpoint group's generation (KIP-447), not by
    // sharing ids, and the next owner of a partition learns the id to fence from its checkpoint.
    transactionalId: (member) => `${instance}.${source}.to.${target}.${member}`,
  };
}
