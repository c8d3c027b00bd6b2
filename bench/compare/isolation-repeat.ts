/**
 * One repeat of the isolation phase for one replicator: the six flows between the three regions,
 * ours as one process per target region, MirrorMaker 2 as one process for all of them, then
 * measureIsolation stops the last region's brokers mid-copy (isolation.ts).
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Deployment } from '../../config/schema.ts';
import type { Logger } from '../../core/logger.ts';
import type { LocalRuntime } from '../../topology/runtime/local-runtime.ts';
import { measureIsolation } from './isolation.ts';
import type { IsolationFlow, IsolationResult } from './isolation.ts';
import { mm2CopyTopic, startMm2 } from './mm2.ts';
import type { CompareOptions } from './options.ts';
import { oursCopyTopic, startOurs } from './ours.ts';
import { bootstrap, deleteRun } from './repeat.ts';
import type { BenchClients } from './repeat.ts';
import type { ReplicatorKind, ReplicatorProcess } from './replicator-process.ts';

export interface IsolationRepeat extends IsolationResult {
  repeat: number;
  runId: string;
  startedAt: string;
  logFiles: string[];
}

export async function runIsolation(ctx: { deployment: Readonly<Deployment>; runtime: LocalRuntime; clients: BenchClients; opts: CompareOptions; kind: ReplicatorKind; repeat: number; logDir: string; log: Logger; progress(line: string): void }): Promise<IsolationRepeat> {
  const regions = Object.keys(ctx.deployment.regions);
  if (regions.length < 3) throw new Error(`isolation needs three regions; the deployment has ${regions.join(', ')}`);
  const stop = regions[regions.length - 1] as string;
  const runId = randomUUID().slice(0, 8);
  const topic = `cmp-${runId}-iso`;
  const dir = join(ctx.logDir, `isolation-${ctx.kind}-r${ctx.repeat}-${runId}`);
  mkdirSync(dir, { recursive: true });
  const size = Math.max(...ctx.opts.sizes);
  const flows: IsolationFlow[] = regions.flatMap((source) => regions.filter((t) => t !== source).map((target) => ({ source, target, copyTopic: ctx.kind === 'ours' ? oursCopyTopic(source, topic) : mm2CopyTopic(source, runId, topic) })));
  const logFiles: string[] = [];
  const start = (): ReplicatorProcess[] => {
    const procs =
      ctx.kind === 'ours'
        ? regions.map((target) => startOurs({ base: ctx.deployment, runId, target, sources: regions.filter((r) => r !== target), include: topic, mode: ctx.opts.isolationMode, dir, name: `ours-${target}` }))
        : [startMm2({ runId, clusters: Object.fromEntries(regions.map((r) => [r, bootstrap(ctx.deployment, r)])), flows: flows.map((f) => ({ source: f.source, target: f.target, topics: topic })), exactlyOnce: ctx.opts.isolationMode === 'exactly-once', tasksMax: ctx.opts.mm2Tasks, heapMb: ctx.opts.mm2HeapMb, dir, name: 'mm2' })];
    logFiles.push(...procs.map((p) => p.logFile));
    return procs;
  };
  const startedAt = new Date().toISOString();
  try {
    const r = await measureIsolation({
      kind: ctx.kind,
      regions,
      stop,
      runtime: ctx.runtime,
      kafka: (region) => ctx.clients.kafka(region),
      bootstrap: (region) => bootstrap(ctx.deployment, region),
      admin: (region) => ctx.clients.admin(region),
      sourceTopic: topic,
      flows,
      start,
      records: ctx.opts.isolationRecords,
      size,
      partitions: ctx.opts.partitions,
      stopFraction: 0.3,
      startupTimeoutSeconds: 600,
      stallTimeoutSeconds: 120,
      verifyGroup: `cmp-${runId}-verify`,
      log: ctx.log,
      progress: (line) => ctx.progress(line),
    });
    return { ...r, repeat: ctx.repeat, runId, startedAt, logFiles };
  } finally {
    await deleteRun(ctx.clients, regions, runId);
  }
}
