/** `georeplica translate`: a consumer group's offsets in one region, translated into another region's copies. */
import { GeoError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import { translateGroupOffsets } from '../replicator/offset-translation.ts';
import type { TranslationResult } from '../replicator/offset-translation.ts';
import { resolveDeployment } from './runtime-commands.ts';
import { table } from './table.ts';

export interface TranslateFlags {
  config?: string | undefined;
  stateDir?: string | undefined;
  json?: boolean | undefined;
  group?: string | undefined;
  from?: string | undefined;
  to?: string | undefined;
  topic?: string[] | undefined;
  apply?: boolean | undefined;
  wait?: boolean | undefined;
  /** Seconds --wait waits at most. */
  timeout?: string | undefined;
}

/** Exit code when some partition is not exact (replication behind): the offsets are safe but re-read records. */
export const EXIT_NOT_EXACT = 3;

export async function translateCommand(flags: TranslateFlags, log: Logger): Promise<number> {
  const missing = (['group', 'from', 'to'] as const).filter((f) => !flags[f]);
  if (missing.length > 0) throw new GeoError('INVALID_ARGUMENT', `translate needs ${missing.map((f) => `--${f}`).join(', ')}, e.g. "georeplica translate --group orders-indexer --from us-east --to eu-west".`);
  const waitTimeoutMs = parseTimeout(flags.timeout);
  if (flags.timeout !== undefined && !flags.wait) throw new GeoError('INVALID_ARGUMENT', '--timeout only applies with --wait.');
  const result = await translateGroupOffsets({
    deployment: resolveDeployment(flags).deployment,
    group: flags.group ?? '',
    from: flags.from ?? '',
    to: flags.to ?? '',
    topics: flags.topic,
    apply: flags.apply === true,
    wait: flags.wait === true,
    ...(waitTimeoutMs === undefined ? {} : { waitTimeoutMs }),
    log,
  });
  if (flags.json) console.log(JSON.stringify(result, null, 2));
  else console.log(formatTranslation(result, flags.apply === true));
  return result.exact ? 0 : EXIT_NOT_EXACT;
}

function parseTimeout(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const seconds = Number(value);
  if (!/^\d+(\.\d+)?$/.test(value) || seconds <= 0 || seconds > 3600) throw new GeoError('INVALID_ARGUMENT', `--timeout: got "${value}"; expected seconds, more than 0 and at most 3600.`);
  return Math.round(seconds * 1000);
}

export function formatTranslation(r: TranslationResult, applyRequested = false): string {
  const lines: string[] = [];
  if (r.partitions.length > 0) {
    const rows = r.partitions.map((p) => [p.topic, String(p.partition), p.sourceOffset, p.copyTopic, p.targetOffset, p.exact ? 'yes' : 'NO', p.exact ? '-' : String(p.pendingRecords), p.note ?? '']);
    lines.push(table(['topic', 'partition', `offset in ${r.from}`, `copy in ${r.to}`, `offset in ${r.to}`, 'exact', 'pending', 'note'], rows));
  }
  for (const s of r.skippedTopics) lines.push(`skipped ${s.topic}: ${s.reason}`);
  lines.push(r.message);
  if (r.partitions.length > 0 && !r.exact) lines.push('Run again with --wait to wait until replication has caught up.');
  if (r.partitions.length > 0 && !applyRequested) lines.push(`Nothing was committed; --apply commits these offsets for group "${r.group}" in ${r.to} (its consumers there must be stopped).`);
  return lines.join('\n');
}
