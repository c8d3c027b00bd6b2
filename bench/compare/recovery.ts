/**
 * Recovery after SIGKILL. Records are produced to the source at a fixed rate while a
 * read_committed observer on the target notes when each record (by sequence number) arrives and
 * how often. After `beforeSeconds` the replicator process is SIGKILLed and at once started again
 * (same configuration, as a supervisor would); production goes on for `afterSeconds`, then the
 * observer waits until every produced record arrived or `drainTimeoutSeconds` passed.
 *
 * - resume: from the SIGKILL until the first record produced after it arrives on the target
 *   (only the restarted process can have copied it);
 * - duplicates: extra committed copies of a record; gaps: records never copied.
 */
import type { Admin, KafkaClient } from '../../core/kafka.ts';
import { sleep } from '../../core/retry.ts';
import { produceAtRate, startConsumer, waitForAssignment } from '../support/kafka-bench.ts';
import type { ResourceReading } from '../support/process-resources.ts';
import { RecordFactory } from '../support/records.ts';
import type { ReplicatorProcess } from './replicator-process.ts';

export interface RecoveryResult {
  ratePerSec: number;
  produced: number;
  /** Sequence number of the first record produced after the SIGKILL. */
  killSeq: number;
  distinct: number;
  duplicates: number;
  /** Records of the run that were never copied (checked after the drain wait). */
  gaps: number;
  /** Whether every produced record arrived before the drain timeout. */
  complete: boolean;
  /** SIGKILL → the first record produced after it is visible on the target (ms); null if none arrived. */
  resumeMs: number | null;
  /** Restart (spawn) → first record of any age arriving on the target (ms); null if none arrived. */
  restartToFirstCopyMs: number | null;
  /** SIGKILL → the process was gone and the new one spawned (ms). */
  restartMs: number;
  killed: ResourceReading;
}

async function waitForTopic(admin: Admin, topic: string, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await admin.listTopics({ timeout: 10_000 })).includes(topic)) {
    if (performance.now() > deadline) throw new Error(`recovery: ${topic} does not exist after ${timeoutMs / 1000} s`);
    await sleep(250);
  }
}

/**
 * `handle.proc` is the running replicator; it is replaced by the restarted one, so the caller
 * stops the right process even when this throws.
 */
export async function measureRecovery(o: {
  handle: { proc: ReplicatorProcess };
  restart: () => ReplicatorProcess;
  sourceBootstrap: readonly string[];
  target: KafkaClient;
  targetAdmin: Admin;
  sourceTopic: string;
  copyTopic: string;
  groupId: string;
  partitions: number;
  size: number;
  ratePerSec: number;
  beforeSeconds: number;
  afterSeconds: number;
  drainTimeoutSeconds: number;
}): Promise<RecoveryResult> {
  const factory = new RecordFactory(o.size);
  const capacity = Math.ceil(o.ratePerSec * (o.beforeSeconds + o.afterSeconds + 30)) + 1_000;
  const firstArrival = new Float64Array(capacity).fill(Number.NaN);
  const copies = new Uint16Array(capacity);
  let distinct = 0;
  let restartAt = Number.POSITIVE_INFINITY;
  let firstAfterRestart: number | undefined;
  await waitForTopic(o.targetAdmin, o.copyTopic, 60_000);
  const observer = await startConsumer(o.target, o.copyTopic, {
    groupId: o.groupId,
    fromBeginning: true,
    settings: { 'isolation.level': 'read_committed', 'fetch.wait.max.ms': 10 },
    concurrency: o.partitions,
    onBatch: (b) => {
      let any = false;
      for (const m of b.messages) {
        const v = m.value;
        if (!v || v.length < 16 || v.readUInt32LE(12) !== factory.tag) continue;
        const seq = v.readUInt32LE(8);
        if (seq >= capacity) continue;
        any = true;
        if (copies[seq] === 0) {
          firstArrival[seq] = b.at;
          distinct++;
        }
        copies[seq] = Math.min(65_535, (copies[seq] ?? 0) + 1);
      }
      if (any && firstAfterRestart === undefined && b.at >= restartAt) firstAfterRestart = b.at;
    },
  });
  try {
    await waitForAssignment(observer.consumer, o.partitions);
    const producer = await produceAtRate(o.sourceBootstrap, o.sourceTopic, { ratePerSec: o.ratePerSec, partitions: o.partitions, factory });
    await sleep(o.beforeSeconds * 1000);
    const killAt = performance.now();
    const killSeq = producer.sent();
    const killed = await o.handle.proc.kill();
    const proc = o.restart();
    o.handle.proc = proc;
    restartAt = proc.spawnedAt;
    await sleep(Math.max(0, o.afterSeconds * 1000 - (performance.now() - killAt)));
    const stopped = await producer.stop();
    const produced = Math.min(stopped.sent, capacity);
    if (stopped.failed > 0) throw new Error(`recovery: ${stopped.failed} records could not be produced to the source`);
    const deadline = performance.now() + o.drainTimeoutSeconds * 1000;
    while (distinct < produced && performance.now() < deadline) {
      if (!proc.running()) throw new Error(`${proc.kind} exited after its restart (${JSON.stringify(await proc.exited)}); see ${proc.logFile}`);
      await sleep(200);
    }
    let duplicates = 0;
    let gaps = 0;
    let resumeAt = Number.POSITIVE_INFINITY;
    for (let s = 0; s < produced; s++) {
      const n = copies[s] ?? 0;
      if (n === 0) gaps++;
      else duplicates += n - 1;
      const at = firstArrival[s] as number;
      if (s >= killSeq && at < resumeAt) resumeAt = at;
    }
    return {
      ratePerSec: o.ratePerSec,
      produced,
      killSeq,
      distinct,
      duplicates,
      gaps,
      complete: gaps === 0,
      resumeMs: Number.isFinite(resumeAt) ? resumeAt - killAt : null,
      restartToFirstCopyMs: firstAfterRestart !== undefined ? firstAfterRestart - restartAt : null,
      restartMs: restartAt - killAt,
      killed,
    };
  } finally {
    await observer.stop();
  }
}
