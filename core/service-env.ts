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
