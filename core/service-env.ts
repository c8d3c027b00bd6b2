/**
 * The environment every georeplica Node service process starts with.
 *
 * The Kafka binding runs its blocking librdkafka calls (commitTransaction,
 * sendOffsetsToTransaction, consume) on libuv's threadpool, which has 4 threads unless told
 * otherwise, and the pool is sized once, when the process first uses it. A replicator holds a
 * transactional producer per partition and commits them concurrently: with 4 threads, the
 * commits of a dozen partitions (and the logger's file writes) queue behind each other.
 */
export const SERVICE_ENV: Readonly<Record<string, string>> = Object.freeze({ UV_THREADPOOL_SIZE: '32' });

/**
 * The CPU priority (nice value) each service process starts with. Searches and writes are what
 * clients wait for; replication and indexing are pipelines that catch up. When the CPU is short
 * (a broker failover's reconnect storm on a small machine, a neighbour), the serving processes
 * go first, as CPU shares would give them in a container deployment. Without contention a nice
 * value changes nothing.
 */
export const SERVICE_NICENESS: Readonly<Record<'replicator' | 'indexer' | 'ingest' | 'search' | 'router', number>> = Object.freeze({ replicator: 5, indexer: 5, ingest: 0, search: 0, router: 0 });
