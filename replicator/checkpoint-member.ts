/**
 * This process's member of a flow's checkpoint group on the target cluster, through the
 * binding's own consumer API. The group's assignment says which source partitions the process
 * copies, and the member's generation fences its transactional checkpoint commits (KIP-447).
 * It subscribes to the copies but never fetches them: every partition is assigned at the end
 * and paused at once, and a poll loop only serves the group's rebalance events.
 *
 * Not the KafkaJS-compatible consumer: its run loop holds a lock that disconnect() waits for,
 * and a fetch of it can wait forever for a rebalance callback's promise when two rebalance
 * events arrive close together (seen in CI: a flow's stop hung for the whole 300 s hook timeout).
 * Here nothing but this loop calls consume, and closing is bounded.
 */
import { createRequire } from 'node:module';
import type { KafkaConsumer, LibrdKafkaError, TopicPartitionOffset } from '@confluentinc/kafka-javascript';
import { bindingError, bindingErrorListener } from '../core/kafka.ts';
import type { Logger } from '../core/logger.ts';

const { KafkaConsumer: PlainKafkaConsumer } = createRequire(import.meta.url)('@confluentinc/kafka-javascript') as { KafkaConsumer: new (conf: Record<string, unknown>, topicConf: Record<string, unknown>) => KafkaConsumer };

/** Methods the binding has and its type declarations lack. */
type PlainConsumer = KafkaConsumer & {
  incrementalAssign(tps: Array<{ topic: string; partition: number; offset?: number }>): void;
  incrementalUnassign(tps: Array<{ topic: string; partition: number }>): void;
  assignmentLost(): boolean;
  commitCb(tps: Array<{ topic: string; partition: number; offset: number }>, cb: (err: LibrdKafkaError | null) => void): void;
};

export interface TopicPartition {
  topic: string;
  partition: number;
}

export interface Checkpoint extends TopicPartition {
  /** The committed next source offset; undefined: none yet. */
  offset: string | undefined;
  /** The transactional id that wrote it (undefined: none). */
  metadata: string | undefined;
}

export type RebalanceKind = 'assign' | 'revoke';

export interface CheckpointMemberOptions {
  bootstrap: readonly string[];
  clientId: string;
  groupId: string;
  /** How soon partition changes on the subscribed copies are noticed. */
  metadataRefreshMs: number;
  /**
   * Called for every rebalance, one at a time in the order they came; the member applies the
   * assignment change once it resolves (so partitions are handed back only after the copy in
   * flight has ended).
   */
  onRebalance: (kind: RebalanceKind, partitions: TopicPartition[]) => Promise<void>;
  log: Logger;
}

const ASSIGN = -175;
const REVOKE = -174;
/** librdkafka's logical offset "end". */
const END = -1;
/** One poll's wait: also how soon a stop is noticed. */
const POLL_MS = 200;
const CONNECT_TIMEOUT_MS = 10_000;
const CLOSE_WAIT_MS = 30_000;

export class CheckpointMember {
  private readonly o: CheckpointMemberOptions;
  private readonly c: PlainConsumer;
  private polling: Promise<void> | undefined;
  private stopping = false;
  /** Rebalance events, one at a time. */
  private rebalances: Promise<void> = Promise.resolve();

  constructor(o: CheckpointMemberOptions) {
    this.o = o;
    this.c = new PlainKafkaConsumer(
      {
        'bootstrap.servers': o.bootstrap.join(','),
        'client.id': o.clientId,
        'group.id': o.groupId,
        // Checkpoints are read with require_stable: one whose transaction is still open is waited for.
        'isolation.level': 'read_committed',
        'enable.auto.commit': false,
        'enable.auto.offset.store': false,
        'enable.partition.eof': false,
        'partition.assignment.strategy': 'cooperative-sticky',
        'session.timeout.ms': 10_000,
        'heartbeat.interval.ms': 1_000,
        'max.poll.interval.ms': 300_000,
        'topic.metadata.refresh.interval.ms': o.metadataRefreshMs,
        rebalance_cb: (err: LibrdKafkaError, assignment: TopicPartition[]) => this.onRebalanceEvent(err, assignment),
      },
      {},
    ) as PlainConsumer;
    this.c.on('event.error', bindingErrorListener(o.log, 'checkpoint member error'));
  }

  async connect(): Promise<void> {
    await new Promise<void>((resolve, reject) => this.c.connect({ timeout: CONNECT_TIMEOUT_MS }, (err) => (err ? reject(bindingError(err)) : resolve())));
    this.c.setDefaultConsumeTimeout(POLL_MS);
    this.polling = this.pollLoop();
  }

  /** Replaces the subscription (the copies of every source topic the flow copies). */
  subscribe(topics: readonly string[]): void {
    this.c.subscribe([...topics]);
  }

  /** The raw consumer, whose group metadata a transactional offset commit carries. */
  client(): KafkaConsumer {
    return this.c;
  }

  /** Committed checkpoints (an OffsetFetch requiring stable offsets). */
  committed(tps: readonly TopicPartition[], timeoutMs: number): Promise<Checkpoint[]> {
    return new Promise((resolve, reject) => {
      this.c.committed(
        tps.map((tp) => ({ topic: tp.topic, partition: tp.partition })),
        timeoutMs,
        (err, got: Array<TopicPartitionOffset & { metadata?: string | null }>) => {
          if (err) return reject(bindingError(err));
          resolve(got.map((p) => ({ topic: p.topic, partition: p.partition, offset: typeof p.offset === 'number' && p.offset >= 0 ? String(p.offset) : undefined, metadata: typeof p.metadata === 'string' && p.metadata.length > 0 ? p.metadata : undefined })));
        },
      );
    });
  }

  /** A plain (non-transactional) offset commit, refused if the member's generation is stale. */
  commit(offsets: ReadonlyArray<TopicPartition & { offset: string }>): Promise<void> {
    return new Promise((resolve, reject) => {
      try {
        this.c.commitCb(
          offsets.map((o) => ({ topic: o.topic, partition: o.partition, offset: Number(o.offset) })),
          (err) => (err ? reject(bindingError(err)) : resolve()),
        );
      } catch (err) {
        reject(bindingError(err));
      }
    });
  }

  /**
   * Leaves the group: the poll loop ends, and librdkafka's close revokes every partition
   * through onRebalance before it leaves. Bounded: a close that does not end is abandoned.
   */
  async disconnect(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    await this.polling;
    let timer: NodeJS.Timeout | undefined;
    const closed = new Promise<boolean>((resolve) => this.c.disconnect(() => resolve(true)));
    const done = await Promise.race([closed, new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), CLOSE_WAIT_MS)))]);
    clearTimeout(timer);
    if (!done) this.o.log.warn({ waitedMs: CLOSE_WAIT_MS }, 'checkpoint member still closing; going on without it');
    await this.rebalances;
  }

  private async pollLoop(): Promise<void> {
    while (!this.stopping) {
      await new Promise<void>((resolve) => {
        try {
          // Nothing is ever fetched (every partition is paused): this serves the group's events.
          this.c.consume(1, () => resolve());
        } catch (err) {
          this.o.log.warn({ err: (err as Error).message }, 'checkpoint member poll failed');
          setTimeout(resolve, POLL_MS);
        }
      });
    }
  }

  private onRebalanceEvent(err: LibrdKafkaError, assignment: TopicPartition[]): void {
    const tps = assignment.map((tp) => ({ topic: tp.topic, partition: tp.partition }));
    const kind: RebalanceKind | undefined = err.code === ASSIGN ? 'assign' : err.code === REVOKE ? 'revoke' : undefined;
    if (!kind) {
      this.o.log.warn({ err: err.message, code: err.code }, 'checkpoint member: unexpected rebalance event');
      return;
    }
    this.o.log.info({ kind, partitions: tps.length, lost: kind === 'revoke' && this.lost() }, 'checkpoint group rebalance');
    this.rebalances = this.rebalances.then(async () => {
      try {
        await this.o.onRebalance(kind, tps);
      } catch (e) {
        this.o.log.error({ err: (e as Error).message, kind }, 'checkpoint member: rebalance handler failed; applying the change anyway');
      }
      this.apply(kind, tps);
    });
  }

  private lost(): boolean {
    try {
      return this.c.assignmentLost();
    } catch {
      return false;
    }
  }

  private apply(kind: RebalanceKind, tps: TopicPartition[]): void {
    try {
      if (kind === 'assign') {
        this.c.incrementalAssign(tps.map((tp) => ({ ...tp, offset: END })));
        if (tps.length > 0) this.c.pause(tps);
      } else {
        this.c.incrementalUnassign(tps);
      }
    } catch (e) {
      // After a close the client refuses; the group has already moved on.
      if (this.c.isConnected()) this.o.log.warn({ err: (e as Error).message, kind }, 'checkpoint member: could not apply the assignment change');
    }
  }
}

