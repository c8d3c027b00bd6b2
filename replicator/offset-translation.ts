/**
 * Offset translation: where a consumer group should resume on another region's copies after a
 * failover, exactly, from the first moment a record is copied.
 *
 * MirrorMaker 2 emits a group checkpoint only after the group has consumed past an offset sync,
 * so a lagging or idle group has no translation at all and the ones it has are rounded down to
 * the last sync (re-reads). Here every copy carries its source offset (provenance headers), so
 * the translation of a committed source offset `o` is found by reading: start at the newest
 * offset sync at or below `o` (syncs only shorten the scan) and take the first copy whose origin
 * offset is ≥ `o`. When no such copy exists yet, the checkpoint says whether everything before
 * `o` is already copied (then the copy's end is exact) or how far replication is behind (then
 * the copy's end is a safe answer: records may be read twice, none is skipped).
 */
import { randomUUID } from 'node:crypto';
import kafkaJs from '@confluentinc/kafka-javascript';
import type { EofEvent, KafkaConsumer, Message } from '@confluentinc/kafka-javascript';
import type { Deployment } from '../config/schema.ts';
import { GeoError } from '../core/errors.ts';
import type { Admin, KafkaClient } from '../core/kafka.ts';
import { KafkaJS, bindingErrorListener, kafkaClient, kafkaError } from '../core/kafka.ts';
import type { Logger } from '../core/logger.ts';
import { sleep } from '../core/retry.ts';
import { flowNames } from './names.ts';
import type { FlowNames } from './names.ts';
import { namingPolicy } from './naming-policy.ts';
import type { NamingPolicy } from './naming-policy.ts';
import { readOrigin } from './provenance.ts';
import type { Headers } from './provenance.ts';

// ---------------------------------------------------------------------------------------------
// Pure logic

/** One record of the offset-sync topic: a batch's first copied source offset ↔ its offset in the copy. */
export interface OffsetSync {
  topic: string;
  partition: number;
  sourceOffset: string;
  targetOffset: string;
}

const OFFSET = /^\d{1,19}$/;

/** Parses an offset-sync record's value; undefined for anything malformed (never trusted blindly). */
export function parseOffsetSync(value: Buffer | string | null | undefined): OffsetSync | undefined {
  if (value === null || value === undefined) return undefined;
  try {
    const v = JSON.parse(value.toString()) as Partial<Record<keyof OffsetSync, unknown>>;
    if (typeof v.topic !== 'string' || typeof v.partition !== 'number' || !Number.isInteger(v.partition) || v.partition < 0) return undefined;
    const sourceOffset = String(v.sourceOffset);
    const targetOffset = String(v.targetOffset);
    if (!OFFSET.test(sourceOffset) || !OFFSET.test(targetOffset)) return undefined;
    return { topic: v.topic, partition: v.partition, sourceOffset, targetOffset };
  } catch {
    return undefined;
  }
}

/**
 * The sync to start scanning from for committed source offset `sourceOffset`: the one with the
 * largest sourceOffset ≤ it, among the syncs of one partition in log order. On a tie the later
 * one wins: it can only come from a re-copy (at-least-once mode after a crash), whose copies
 * follow it in order, so starting there skips nothing and re-reads less.
 */
export function pickSync(syncs: Iterable<OffsetSync>, sourceOffset: string | bigint): OffsetSync | undefined {
  const o = BigInt(sourceOffset);
  let best: OffsetSync | undefined;
  for (const s of syncs) best = preferSync(best, s, o);
  return best;
}

/** pickSync's step, for streaming a large sync topic without keeping it. */
export function preferSync(best: OffsetSync | undefined, candidate: OffsetSync, sourceOffset: bigint): OffsetSync | undefined {
  const c = BigInt(candidate.sourceOffset);
  if (c > sourceOffset) return best;
  return best === undefined || c >= BigInt(best.sourceOffset) ? candidate : best;
}

export interface ScanOutcome {
  /** The group's committed offset on the source: the next record it would read. */
  sourceOffset: bigint;
  /** Offset in the copy of the first copy whose origin offset is ≥ sourceOffset, when the scan found one. */
  found?: bigint | undefined;
  /** Where the scan reached the copy partition's end (read_committed: its last stable offset). */
  end: bigint;
  /** The flow's checkpoint for the partition (next source offset to copy), read BEFORE the scan. */
  checkpoint?: bigint | undefined;
  /** The source partition's log start, standing in for a checkpoint that does not exist yet. */
  sourceStart?: bigint | undefined;
}

export interface Settled {
  targetOffset: bigint;
  exact: boolean;
  pendingRecords: number;
}

/**
 * Turns what the reads saw into a translation. The checkpoint must have been read before the
 * scan: then a checkpoint ≥ sourceOffset means every record before it was visible to the scan,
 * and a copy committed after the scan can only hold origins ≥ sourceOffset, which the end keeps.
 */
export function settleTranslation(s: ScanOutcome): Settled {
  if (s.found !== undefined) return { targetOffset: s.found, exact: true, pendingRecords: 0 };
  const copiedUpTo = s.checkpoint ?? s.sourceStart ?? 0n;
  if (copiedUpTo >= s.sourceOffset) return { targetOffset: s.end, exact: true, pendingRecords: 0 };
  // Source offsets count transaction markers too, so this is an upper bound of the records.
  return { targetOffset: s.end, exact: false, pendingRecords: Number(s.sourceOffset - copiedUpTo) };
}

// ---------------------------------------------------------------------------------------------
// The translation

export interface TranslateOptions {
  deployment: Readonly<Deployment>;
  group: string;
  /** The region whose cluster has the group's committed offsets. */
  from: string;
  /** The region to fail over to: its copies of `from`'s topics are what the offsets translate into. */
  to: string;
  /** Only these source topics (default: every replicated topic the group has committed). */
  topics?: readonly string[] | undefined;
  /** Commit the translated offsets for the same group on `to` (the group must be empty there). */
  apply?: boolean | undefined;
  /** Poll until every partition is exact (replication caught up), up to waitTimeoutMs. */
  wait?: boolean | undefined;
  waitTimeoutMs?: number | undefined;
  pollIntervalMs?: number | undefined;
  /** Bound of each read of the offset-sync topic and of the copies. */
  readTimeoutMs?: number | undefined;
  log: Logger;
}

export interface PartitionTranslation {
  topic: string;
  copyTopic: string;
  partition: number;
  /** The group's committed offset on `from`. */
  sourceOffset: string;
  /** Where the group resumes on the copy in `to`. */
  targetOffset: string;
  /** True when resuming at targetOffset reads every record from sourceOffset on exactly once. */
  exact: boolean;
  /** When not exact: at most this many records before sourceOffset are not copied yet (they will be read again). */
  pendingRecords: number;
  /** Why a partition could not be translated normally (no copy yet), or what to watch out for. */
  note?: string;
}

export interface TranslationResult {
  group: string;
  from: string;
  to: string;
  partitions: PartitionTranslation[];
  /** Every partition is exact (true for none). */
  exact: boolean;
  /** The offsets were committed for the group on `to`. */
  applied: boolean;
  /** Topics the group committed that are not replicated from `from` to `to`. */
  skippedTopics: Array<{ topic: string; reason: string }>;
  /** One line for people. */
  message: string;
}

const DEFAULTS = { waitTimeoutMs: 60_000, pollIntervalMs: 1_000, readTimeoutMs: 30_000 } as const;
const ADMIN_TIMEOUT_MS = 10_000;

interface Job {
  topic: string;
  copyTopic: string;
  partition: number;
  sourceOffset: bigint;
  /** Where the next scan starts; everything before it in the copy is known to have origin < sourceOffset. */
  scanFrom: bigint | undefined;
  /** The copy partition does not exist in the target yet. */
  missing: boolean;
  result: PartitionTranslation | undefined;
}

export async function translateGroupOffsets(o: TranslateOptions): Promise<TranslationResult> {
  const d = o.deployment;
  const regions = Object.keys(d.regions);
  for (const [role, region] of [
    ['source', o.from],
    ['target', o.to],
  ] as const) {
    if (!d.regions[region]) throw new GeoError('UNKNOWN_REGION', `Unknown ${role} region "${region}". Valid regions: ${regions.join(', ')}.`, { details: { region, valid: regions } });
  }
  if (o.from === o.to) throw new GeoError('INVALID_ARGUMENT', `The source and target regions are both "${o.from}"; translation is between two different regions.`, { details: { from: o.from, to: o.to } });
  if (o.group.trim() === '') throw new GeoError('INVALID_ARGUMENT', 'A consumer group id is required.');

  const names = flowNames(d.replication.instance, o.from, o.to);
  const policy = namingPolicy({ naming: d.replication.naming, include: d.replication.include, exclude: d.replication.exclude, regions, instance: d.replication.instance, alwaysInclude: [d.topics.heartbeats] });
  const log = o.log.child({ component: 'offset-translation', group: o.group, from: o.from, to: o.to });
  const source = kafkaClient({ bootstrap: d.regions[o.from]?.kafka.bootstrap ?? [], clientId: `georeplica-translate-${o.from}`, log });
  const target = kafkaClient({ bootstrap: d.regions[o.to]?.kafka.bootstrap ?? [], clientId: `georeplica-translate-${o.to}`, log });
  const sourceAdmin = source.admin();
  const targetAdmin = target.admin();
  try {
    await connectAdmin(sourceAdmin, o.from);
    await connectAdmin(targetAdmin, o.to);
    // Fail fast, before any reading; checked again right before the commit.
    if (o.apply) await assertGroupEmpty(targetAdmin, o.group, o.to);

    const committed = await fetchCommitted(sourceAdmin, o.group, o.topics, `reading the offsets of group "${o.group}" in ${o.from}`);
    const skippedTopics: Array<{ topic: string; reason: string }> = [];
    const jobs: Job[] = [];
    for (const [topic, partitions] of [...committed].sort(([a], [b]) => a.localeCompare(b))) {
      if (!policy.replicates(topic)) {
        skippedTopics.push({ topic, reason: notReplicatedReason(topic, policy, d.replication.instance) });
        continue;
      }
      const copyTopic = policy.targetTopic(o.from, topic);
      for (const [partition, offset] of [...partitions].sort(([a], [b]) => a - b)) jobs.push({ topic, copyTopic, partition, sourceOffset: offset, scanFrom: undefined, missing: false, result: undefined });
    }
    const base = { group: o.group, from: o.from, to: o.to, skippedTopics, applyRequested: o.apply === true };
    if (jobs.length === 0) {
      const scope = o.topics?.length ? ` for topic${o.topics.length > 1 ? 's' : ''} ${o.topics.join(', ')}` : '';
      const skipped = skippedTopics.length > 0 ? ` (it has offsets only for topics not replicated to ${o.to}: ${skippedTopics.map((s) => s.topic).join(', ')})` : '';
      const message = skippedTopics.length > 0 ? `Group "${o.group}" has no committed offsets in ${o.from} for a replicated topic${scope}${skipped}; nothing to translate.` : `Group "${o.group}" has no committed offsets in ${o.from}${scope}; nothing to translate.`;
      return { group: o.group, from: o.from, to: o.to, partitions: [], exact: true, applied: false, skippedTopics, message };
    }

    const translator = new Translator({ targetAdmin, sourceAdmin, target: d.regions[o.to]?.kafka.bootstrap ?? [], names, from: o.from, to: o.to, identity: policy.kind === 'identity', readTimeoutMs: o.readTimeoutMs ?? DEFAULTS.readTimeoutMs, log });
    const waitUntil = Date.now() + (o.waitTimeoutMs ?? DEFAULTS.waitTimeoutMs);
    for (let round = 1; ; round++) {
      await translator.round(jobs);
      const behind = jobs.filter((j) => !j.result?.exact);
      log.debug({ round, behind: behind.length }, 'translation round');
      if (!o.wait || behind.length === 0) break;
      if (Date.now() >= waitUntil) {
        const partial = summarise(jobs, { ...base, applyRequested: false }, false);
        throw new GeoError('TIMEOUT', `Replication ${o.from} → ${o.to} did not catch up with group "${o.group}" within ${Math.round((o.waitTimeoutMs ?? DEFAULTS.waitTimeoutMs) / 1000)} s: ${partial.message} Nothing was committed.`, { details: { result: partial } });
      }
      await sleep(o.pollIntervalMs ?? DEFAULTS.pollIntervalMs);
    }

    let applied = false;
    if (o.apply) {
      const commits = jobs.filter((j) => j.result !== undefined && !j.missing).map((j) => ({ topic: j.copyTopic, partition: j.partition, offset: j.result?.targetOffset ?? '0' }));
      if (commits.length > 0) {
        await assertGroupEmpty(targetAdmin, o.group, o.to);
        await commitGroupOffsets(target, o.group, o.to, commits);
        applied = true;
        log.info({ partitions: commits.length }, 'translated offsets committed');
      }
    }
    return summarise(jobs, base, applied);
  } finally {
    await sourceAdmin.disconnect().catch(() => undefined);
    await targetAdmin.disconnect().catch(() => undefined);
  }
}

function summarise(jobs: readonly Job[], base: { group: string; from: string; to: string; skippedTopics: Array<{ topic: string; reason: string }>; applyRequested: boolean }, applied: boolean): TranslationResult {
  const partitions = jobs.flatMap((j) => (j.result ? [j.result] : []));
  const behind = partitions.filter((p) => !p.exact);
  const noCopy = jobs.filter((j) => j.missing);
  const parts: string[] = [];
  if (behind.length === 0) parts.push(`All ${partitions.length} partition${partitions.length === 1 ? '' : 's'} translated exactly.`);
  else {
    const pending = behind.reduce((n, p) => n + p.pendingRecords, 0);
    parts.push(`${behind.length} of ${partitions.length} partitions are not exact: replication to ${base.to} is behind by up to ${pending} record${pending === 1 ? '' : 's'}; resuming there re-reads records, never skips one.`);
  }
  if (noCopy.length > 0) parts.push(`${noCopy.length} partition${noCopy.length === 1 ? ' has' : 's have'} no copy in ${base.to} yet (is the replicator running for ${base.from} → ${base.to}?)${base.applyRequested ? ` and ${noCopy.length === 1 ? 'was' : 'were'} not committed` : ''}.`);
  if (applied) parts.push(`Committed ${partitions.length - noCopy.length} offset${partitions.length - noCopy.length === 1 ? '' : 's'} for group "${base.group}" in ${base.to}.`);
  if (base.skippedTopics.length > 0) parts.push(`Skipped ${base.skippedTopics.length} topic${base.skippedTopics.length === 1 ? '' : 's'} not replicated to ${base.to}.`);
  return { group: base.group, from: base.from, to: base.to, partitions, exact: behind.length === 0, applied, skippedTopics: base.skippedTopics, message: parts.join(' ') };
}

function notReplicatedReason(topic: string, policy: NamingPolicy, instance: string): string {
  if (topic.startsWith('__')) return 'an internal Kafka topic';
  if (topic.startsWith(`${instance}.`)) return "one of the replicator's own topics";
  const copy = policy.kind === 'prefix' ? policy.parseCopy(topic) : undefined;
  if (copy) return `a copy from ${copy.sourceRegion}, never replicated again`;
  return 'excluded by replication.include/exclude';
}

async function connectAdmin(admin: Admin, region: string): Promise<void> {
  try {
    await admin.connect();
  } catch (err) {
    throw kafkaError(err, `connecting to the Kafka cluster of ${region}`);
  }
}

/** Classic-protocol states in which the group has (or is getting) members. */
const ACTIVE_STATES = new Set<number>([KafkaJS.ConsumerGroupStates.PREPARING_REBALANCE, KafkaJS.ConsumerGroupStates.COMPLETING_REBALANCE, KafkaJS.ConsumerGroupStates.STABLE]);
const GROUP_ID_NOT_FOUND = 69;

async function assertGroupEmpty(admin: Admin, group: string, region: string): Promise<void> {
  let described: KafkaJS.GroupDescriptions;
  try {
    described = await admin.describeGroups([group], { timeout: ADMIN_TIMEOUT_MS });
  } catch (err) {
    throw kafkaError(err, `describing group "${group}" in ${region}`);
  }
  const g = described.groups.find((x) => x.groupId === group);
  if (!g) return;
  if (g.error && g.error.code !== GROUP_ID_NOT_FOUND) throw kafkaError(g.error, `describing group "${group}" in ${region}`);
  if (g.members.length > 0 || ACTIVE_STATES.has(g.state)) {
    throw new GeoError('INVALID_ARGUMENT', `Consumer group "${group}" is active in ${region} (${g.members.length} member${g.members.length === 1 ? '' : 's'}). Stop the group's consumers in ${region} first, then apply the translated offsets again; committing under running consumers would be overwritten or rejected.`, {
      details: { group, region, members: g.members.length, state: KafkaJS.ConsumerGroupStates[g.state] },
    });
  }
}

/** The group's committed offsets (≥ 0) per topic and partition; retries unstable (in-transaction) offsets briefly. */
async function fetchCommitted(admin: Admin, groupId: string, topics: readonly string[] | undefined, what: string): Promise<Map<string, Map<number, bigint>>> {
  for (let attempt = 1; ; attempt++) {
    let fetched: Awaited<ReturnType<Admin['fetchOffsets']>>;
    try {
      fetched = await admin.fetchOffsets({ groupId, ...(topics?.length ? { topics: [...topics] } : {}), requireStableOffsets: true, timeout: ADMIN_TIMEOUT_MS });
    } catch (err) {
      throw kafkaError(err, what);
    }
    const failed = fetched.flatMap((t) => t.partitions.filter((p) => p.error).map((p) => ({ topic: t.topic, partition: p.partition, error: p.error })));
    if (failed.length > 0) {
      // Typically UNSTABLE_OFFSET_COMMIT: a transaction holding an offset commit is still open.
      if (attempt < 20) {
        await sleep(250);
        continue;
      }
      const f = failed[0];
      throw kafkaError(f?.error, `${what} (${f?.topic}/${f?.partition})`);
    }
    const out = new Map<string, Map<number, bigint>>();
    for (const t of fetched) {
      for (const p of t.partitions) {
        if (!OFFSET.test(p.offset)) continue; // -1: nothing committed for this partition
        let m = out.get(t.topic);
        if (!m) out.set(t.topic, (m = new Map<number, bigint>()));
        m.set(p.partition, BigInt(p.offset));
      }
    }
    return out;
  }
}

async function commitGroupOffsets(kafka: KafkaClient, group: string, region: string, offsets: Array<{ topic: string; partition: number; offset: string }>): Promise<void> {
  // A group member that never subscribes: its commit is a "simple" one, accepted only while the
  // group has no members (checked just before), which is exactly the safe case.
  const consumer = kafka.consumer({ kafkaJS: { groupId: group, autoCommit: false } });
  try {
    await consumer.connect();
    await consumer.commitOffsets(offsets);
  } catch (err) {
    throw kafkaError(err, `committing the translated offsets of group "${group}" in ${region}`);
  } finally {
    await consumer.disconnect().catch(() => undefined);
  }
}

// ---------------------------------------------------------------------------------------------
// Reading the target cluster

interface TranslatorOptions {
  targetAdmin: Admin;
  sourceAdmin: Admin;
  target: readonly string[];
  names: FlowNames;
  from: string;
  to: string;
  identity: boolean;
  readTimeoutMs: number;
  log: Logger;
}

class Translator {
  private readonly o: TranslatorOptions;

  constructor(o: TranslatorOptions) {
    this.o = o;
  }

  /** Translates every job that is not exact yet; a later round resumes each scan where the last one ended. */
  async round(jobs: Job[]): Promise<void> {
    const pending = jobs.filter((j) => !j.result?.exact);
    if (pending.length === 0) return;
    const { targetAdmin } = this.o;
    let topics: Set<string>;
    try {
      topics = new Set(await targetAdmin.listTopics({ timeout: ADMIN_TIMEOUT_MS }));
    } catch (err) {
      throw kafkaError(err, `listing the topics of ${this.o.to}`);
    }
    const copyTopics = [...new Set(pending.map((j) => j.copyTopic))].filter((t) => topics.has(t));
    const partitionCounts = new Map<string, number>();
    if (copyTopics.length > 0) {
      try {
        for (const m of await targetAdmin.fetchTopicMetadata({ topics: copyTopics, timeout: ADMIN_TIMEOUT_MS })) partitionCounts.set(m.name, m.partitions.length);
      } catch (err) {
        throw kafkaError(err, `reading the copies' metadata in ${this.o.to}`);
      }
    }
    const ready = pending.filter((j) => (partitionCounts.get(j.copyTopic) ?? 0) > j.partition);
    const missing = pending.filter((j) => !ready.includes(j));

    // Order matters: the checkpoints first, then the scan (see settleTranslation).
    const checkpoints = ready.length > 0 ? await fetchCommitted(targetAdmin, this.o.names.checkpointGroup, [...new Set(ready.map((j) => j.copyTopic))], `reading the checkpoints of ${this.o.names.flowId}`) : new Map<string, Map<number, bigint>>();
    const needSyncs = ready.filter((j) => j.scanFrom === undefined);
    const outcomes = new Map<Job, { found: bigint | undefined; end: bigint | undefined }>();
    const byCopy = new Map(ready.map((j) => [`${j.copyTopic}/${j.partition}`, j]));
    if (ready.length > 0) {
      const reader = await AssignedReader.open(this.o.target, this.o.names, this.o.log);
      try {
        if (needSyncs.length > 0 && topics.has(this.o.names.offsetSyncTopic)) await this.startFromSyncs(reader, needSyncs);
        const ends = await reader.read(
          ready.map((j) => ({ topic: j.copyTopic, partition: j.partition, from: j.scanFrom })),
          (m) => {
            const job = byCopy.get(`${m.topic}/${m.partition}`);
            if (!job) return false;
            const origin = readOrigin(headersOf(m));
            // Under identity naming the topic also holds the region's own writes and other regions' copies.
            if (!origin || origin.region !== this.o.from || origin.topic !== job.topic || origin.partition !== job.partition || !OFFSET.test(origin.offset)) return false;
            if (BigInt(origin.offset) < job.sourceOffset) return false;
            outcomes.set(job, { found: BigInt(m.offset), end: undefined });
            return true;
          },
          this.o.readTimeoutMs,
          `reading the copies of ${this.o.from}'s topics in ${this.o.to}`,
        );
        for (const j of ready) {
          const end = ends.get(`${j.copyTopic}/${j.partition}`);
          if (end !== undefined) outcomes.set(j, { found: undefined, end });
        }
      } finally {
        await reader.close();
      }
    }

    const sourceStarts = await this.sourceStarts([...ready.filter((j) => outcomes.get(j)?.found === undefined && checkpoints.get(j.copyTopic)?.get(j.partition) === undefined), ...missing]);
    for (const j of ready) {
      const seen = outcomes.get(j);
      if (!seen) throw new GeoError('INTERNAL', `no scan outcome for ${j.copyTopic}/${j.partition}`);
      if (seen.end !== undefined) j.scanFrom = seen.end;
      const s = settleTranslation({ sourceOffset: j.sourceOffset, found: seen.found, end: seen.end ?? 0n, checkpoint: checkpoints.get(j.copyTopic)?.get(j.partition), sourceStart: sourceStarts.get(`${j.topic}/${j.partition}`) });
      j.result = { topic: j.topic, copyTopic: j.copyTopic, partition: j.partition, sourceOffset: String(j.sourceOffset), targetOffset: String(s.targetOffset), exact: s.exact, pendingRecords: s.pendingRecords };
      if (this.o.identity) j.result.note = `identity naming: ${j.copyTopic} also holds records not from ${this.o.from}; the offset is exact for ${this.o.from}'s records only`;
    }
    for (const j of ready) j.missing = false;
    for (const j of missing) {
      j.missing = true;
      const start = sourceStarts.get(`${j.topic}/${j.partition}`) ?? 0n;
      j.result = {
        topic: j.topic,
        copyTopic: j.copyTopic,
        partition: j.partition,
        sourceOffset: String(j.sourceOffset),
        targetOffset: '0',
        exact: false,
        pendingRecords: Number(j.sourceOffset > start ? j.sourceOffset - start : 0n),
        note: `no copy ${j.copyTopic} partition ${j.partition} in ${this.o.to} yet`,
      };
    }
  }

  /** Reads the offset-sync topic to its end and sets each job's scan start to its best sync's target offset. */
  private async startFromSyncs(reader: AssignedReader, jobs: Job[]): Promise<void> {
    const byKey = new Map(jobs.map((j) => [`${j.topic}/${j.partition}`, { job: j, best: undefined as OffsetSync | undefined }]));
    let read = 0;
    await reader.read(
      [{ topic: this.o.names.offsetSyncTopic, partition: 0, from: undefined }],
      (m) => {
        read++;
        const s = parseOffsetSync(m.value);
        const entry = s && byKey.get(`${s.topic}/${s.partition}`);
        if (s && entry) entry.best = preferSync(entry.best, s, entry.job.sourceOffset);
        return false;
      },
      this.o.readTimeoutMs,
      `reading ${this.o.names.offsetSyncTopic} in ${this.o.to}`,
    );
    for (const { job, best } of byKey.values()) if (best) job.scanFrom = BigInt(best.targetOffset);
    this.o.log.debug({ syncs: read, withSync: [...byKey.values()].filter((e) => e.best).length }, 'offset syncs read');
  }

  /** Log start offsets of source partitions, for those with neither a copy found nor a checkpoint. */
  private async sourceStarts(jobs: readonly Job[]): Promise<Map<string, bigint>> {
    const out = new Map<string, bigint>();
    for (const topic of new Set(jobs.map((j) => j.topic))) {
      try {
        for (const p of await this.o.sourceAdmin.fetchTopicOffsets(topic, { timeout: ADMIN_TIMEOUT_MS, isolationLevel: KafkaJS.IsolationLevel.READ_COMMITTED })) out.set(`${topic}/${p.partition}`, BigInt(p.low));
      } catch (err) {
        throw kafkaError(err, `reading the offsets of ${topic} in ${this.o.from}`);
      }
    }
    return out;
  }
}

function headersOf(m: Message): Headers {
  const out: Headers = {};
  for (const h of m.headers ?? []) for (const [k, v] of Object.entries(h)) out[k] ??= v;
  return out;
}

/** librdkafka errors that only mean "not now": the read goes on until its deadline. */
const TRANSIENT_CODES = new Set([-195 /* TRANSPORT */, -187 /* ALL_BROKERS_DOWN */, -185 /* TIMED_OUT */, -192 /* MSG_TIMED_OUT */, 6 /* NOT_LEADER_OR_FOLLOWER */, 3 /* UNKNOWN_TOPIC_OR_PART, until metadata settles */]);

/**
 * A short-lived reader of given partitions from given offsets to their end.
 *
 * Why the lower-level KafkaConsumer and not the KafkaJS-compatible one: translation must read
 * exactly the partitions it names, from exact offsets, and know for certain when it has reached
 * a partition's end. `assign` does the former without joining any group, and librdkafka's
 * partition-EOF event does the latter: under read_committed it fires at the last stable offset,
 * past transaction markers and aborted batches, which an offset comparison with the last record
 * cannot tell. The compat consumer has neither assign nor EOF events and must join a group (a
 * rebalance of seconds) before it can seek. The group.id below is required by the binding only;
 * this consumer never joins it and never commits.
 */
class AssignedReader {
  private constructor(private readonly c: KafkaConsumer) {}

  static async open(bootstrap: readonly string[], names: FlowNames, log: Logger): Promise<AssignedReader> {
    const c = new kafkaJs.KafkaConsumer({
      'bootstrap.servers': bootstrap.join(','),
      'client.id': `${names.flowId}-translate`,
      'group.id': `${names.checkpointGroup}.translate.${randomUUID()}`,
      'enable.auto.commit': false,
      'enable.auto.offset.store': false,
      'isolation.level': 'read_committed',
      'enable.partition.eof': true,
      // A sync pointing below the copy's log start (retention) falls back to its beginning.
      'auto.offset.reset': 'earliest',
      'fetch.wait.max.ms': 100,
    });
    c.on('event.error', bindingErrorListener(log, 'translation reader error', 'debug'));
    c.setDefaultConsumeTimeout(250);
    await new Promise<void>((resolve, reject) => {
      c.connect({ timeout: ADMIN_TIMEOUT_MS }, (err) => (err ? reject(kafkaError(err, 'connecting the translation reader')) : resolve()));
    });
    return new AssignedReader(c);
  }

  /**
   * Reads each partition from `from` (undefined: its beginning) until `onRecord` returns true
   * for one of its records (then undefined in the result) or its end (then the end offset).
   */
  async read(parts: ReadonlyArray<{ topic: string; partition: number; from: bigint | undefined }>, onRecord: (m: Message) => boolean, timeoutMs: number, what: string): Promise<Map<string, bigint | undefined>> {
    const c = this.c;
    // Events of an earlier assignment never arrive here: librdkafka drops outdated fetches on assign.
    const open = new Set(parts.map((p) => `${p.topic}/${p.partition}`));
    const result = new Map<string, bigint | undefined>();
    const onData = (m: Message): void => {
      const key = `${m.topic}/${m.partition}`;
      if (!open.has(key)) return;
      if (onRecord(m)) {
        open.delete(key);
        result.set(key, undefined);
        c.pause([{ topic: m.topic, partition: m.partition }]);
      }
    };
    const onEof = (e: EofEvent): void => {
      const key = `${e.topic}/${e.partition}`;
      if (!open.has(key)) return;
      open.delete(key);
      result.set(key, BigInt(e.offset));
    };
    c.on('data', onData);
    c.on('partition.eof', onEof);
    const deadline = Date.now() + timeoutMs;
    try {
      c.assign(parts.map((p) => ({ topic: p.topic, partition: p.partition, offset: p.from === undefined ? -2 /* beginning */ : Number(p.from) })));
      while (open.size > 0) {
        if (Date.now() > deadline) throw new GeoError('TIMEOUT', `${what}: ${open.size} partition(s) not read to their end within ${Math.round(timeoutMs / 1000)} s (${[...open].slice(0, 5).join(', ')})`, { details: { partitions: [...open] } });
        await new Promise<void>((resolve, reject) => {
          // Records and EOF events arrive through the listeners above, in order.
          c.consume(10_000, (err) => {
            if (err && !TRANSIENT_CODES.has(err.code)) reject(kafkaError(err, what));
            else resolve();
          });
        });
      }
      return result;
    } finally {
      c.removeListener('data', onData);
      c.removeListener('partition.eof', onEof);
      try {
        c.unassign();
      } catch {
        // Disconnected already.
      }
    }
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.c.disconnect(() => resolve());
    });
  }
}
