/**
 * The replication settings a replicator benchmark runs with: the product's defaults. The local
 * runtime's deployment (topology/regions.local.yaml) tunes the copy cadence down, because there
 * three regions, their OpenSearch nodes and every service share two cores; the benchmarks'
 * regions are Kafka brokers only, and what they measure is the replicator as shipped. A flag of
 * the benchmark can still set any of these.
 */
import { ReplicationSchema } from '../../config/schema.ts';
import type { ReplicationConfig } from '../../config/schema.ts';

const CADENCE = ['minCopyIntervalMs', 'minCopyRecords', 'fetchMinBytes', 'fetchMaxWaitMs'] as const;

/** The shipped defaults of the copy cadence. */
export const PRODUCT_CADENCE: Readonly<Pick<ReplicationConfig, (typeof CADENCE)[number]>> = Object.freeze(Object.fromEntries(CADENCE.map((k) => [k, ReplicationSchema.parse({})[k]])) as Pick<ReplicationConfig, (typeof CADENCE)[number]>);

/** A deployment's replication block with the copy cadence back at the product's defaults. */
export function withProductCadence(replication: object): Record<string, unknown> {
  return { ...replication, ...PRODUCT_CADENCE };
}
