/** A scenario's result: what was checked and measured, the pass/fail decision, and its table row. */
import type { Verdict } from './checker.ts';
import type { Scenario } from './scenario.ts';
import type { FaultFigures, FreshnessSummary, ServingSummary } from './serving.ts';
import type { UnexpectedExit } from './supervisor.ts';

export interface ScenarioResult {
  scenario: string;
  description: string;
  file: string;
  startedAt: string;
  wallSeconds: number;
  /** 1, 5 and 15-minute load averages of the machine at the start and at the end. */
  loadAverage: { start: number[]; end: number[] };
  durationMs: number;
  /** How long the load really ran: the duration, or longer while a fault was still healing (a slow restart). */
  loadMs: number;
  quietLimitMs: number;
  /** From the end of the load (and the final heal) until every check passed; undefined if they never did. */
  settleMs: number | undefined;
  verdict: Verdict;
  writesSkipped: number;
  serving: ServingSummary & { via: string };
  freshness: FreshnessSummary;
  faults: FaultFigures[];
  /** What the final heal had to repair (nothing when every fault healed itself on schedule). */
  healedAtEnd: string[];
  /** Servers that exited without a fault stopping them (restarted by the supervisor). */
  unexpectedExits: UnexpectedExit[];
  checks: { passed: boolean; failures: string[] };
  /** When a check failed: every replicator's flows and partitions not caught up, as their admin API reported them then. */
  replicationAtFailure?: string[];
}

/** The pass/fail decision of a scenario. */
export function decide(s: Scenario, v: Verdict, serving: ServingSummary, faults: readonly FaultFigures[], exits: readonly UnexpectedExit[]): { passed: boolean; failures: string[] } {
  const failures: string[] = [];
  if (v.lost > 0) failures.push(`lost ${v.lost} acknowledged writes (${v.lostInIndex.length} index entries, ${v.lostInCopies.length} copies)`);
  if (v.duplicated > 0) failures.push(`${v.duplicated} duplicated records in copies`);
  if (v.outOfOrder > 0) failures.push(`${v.outOfOrder} copied partitions out of order`);
  if (v.misplaced > 0) failures.push(`${v.misplaced} copies on the wrong partition`);
  if (v.missingInCopies > 0) failures.push(`${v.missingInCopies} source records missing from copies`);
  if (v.phantoms.length > 0) failures.push(`${v.phantoms.length} index entries no write explains`);
  if (!v.converged) failures.push(`not converged: ${v.divergent.length} ids differ between regions${v.unreadable.length ? `; unreadable: ${v.unreadable.join(', ')}` : ''}`);
  if (serving.availability < s.checks.minAvailability) failures.push(`availability ${pct(serving.availability)} < ${pct(s.checks.minAvailability)}`);
  const searchErrors = serving.searches - serving.ok;
  if (s.checks.maxSearchErrors !== undefined && searchErrors > s.checks.maxSearchErrors) failures.push(`${searchErrors} search errors > ${s.checks.maxSearchErrors}`);
  const writeErrors = v.writes.failed + v.writes.indeterminate;
  if (s.checks.maxWriteErrors !== undefined && writeErrors > s.checks.maxWriteErrors) failures.push(`${writeErrors} write errors > ${s.checks.maxWriteErrors}`);
  if (exits.length > s.checks.maxUnexpectedExits) failures.push(`${exits.length} servers exited without a fault stopping them (${[...new Set(exits.map((e) => e.server))].join(', ')}) > ${s.checks.maxUnexpectedExits}`);
  for (const f of faults) if (f.error) failures.push(`fault ${f.fault} (${f.action} ${f.target}) could not be applied: ${f.error}`);
  return { passed: failures.length === 0, failures };
}

export const TABLE_HEADERS = ['scenario', 'acked writes', 'write errors', 'lost', 'dup', 'order', 'converged', 'availability', 'longest error', 'max lag', 'failover', 'recovery', 'settle', 'crashes', 'load avg', 'result'];

export function tableRow(r: ScenarioResult): string[] {
  const v = r.verdict;
  const failovers = r.faults.map((f) => f.failoverMs).filter((x): x is number => x !== undefined);
  const recoveries = r.faults.map((f) => f.recoveryMs).filter((x): x is number => x !== undefined);
  return [
    r.scenario,
    String(v.writes.acked),
    String(v.writes.failed + v.writes.indeterminate),
    String(v.lost),
    String(v.duplicated),
    String(v.outOfOrder),
    v.converged ? 'yes' : 'NO',
    `${pct(r.serving.availability)} (${r.serving.searches - r.serving.ok}/${r.serving.searches})`,
    secs(r.serving.longestErrorStretchMs),
    r.freshness.maxLagMs === undefined ? '-' : secs(r.freshness.maxLagMs),
    failovers.length ? failovers.map(secs).join(' ') : '-',
    recoveries.length ? `max ${secs(Math.max(...recoveries))}` : '-',
    r.settleMs === undefined ? 'never' : secs(r.settleMs),
    r.unexpectedExits.length === 0 ? '0' : `${r.unexpectedExits.length} (${[...new Set(r.unexpectedExits.map((e) => e.server))].join(', ')})`,
    `${r.loadAverage.start[0]?.toFixed(1)}→${r.loadAverage.end[0]?.toFixed(1)}`,
    r.checks.passed ? 'PASS' : 'FAIL',
  ];
}

/** The result as JSON, with the long lists cut to their first 20 entries (counts stay exact). */
export function resultJson(r: ScenarioResult): Record<string, unknown> {
  const v = r.verdict;
  return { ...r, verdict: { ...v, lostInIndex: v.lostInIndex.slice(0, 20), lostInCopies: v.lostInCopies.slice(0, 20), phantoms: v.phantoms.slice(0, 20), divergent: v.divergent.slice(0, 20) } };
}

function pct(x: number): string {
  return `${(x * 100).toFixed(x === 1 ? 0 : 2)} %`;
}

export function secs(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/**
 * The acknowledged writes missing from copies, as offset ranges per flow and source partition
 * ("us-east->eu-west p2: 140-171 (32)"): a gap (later records copied) and a stall (only the tail
 * missing) read differently, and a CI log keeps only its last lines.
 */
export function lossRanges(v: Verdict): string {
  const byPart = new Map<string, number[]>();
  for (const l of v.lostInCopies) {
    const [p, off] = l.at.split('/');
    const k = `${l.from}->${l.to} p${p}`;
    byPart.set(k, [...(byPart.get(k) ?? []), Number(off)]);
  }
  const parts: string[] = [];
  for (const [k, offsets] of [...byPart].sort(([a], [b]) => a.localeCompare(b))) {
    offsets.sort((a, b) => a - b);
    const runs: string[] = [];
    let start = offsets[0] as number;
    let prev = start;
    for (const o of [...offsets.slice(1), Number.NaN]) {
      if (o === prev + 1) {
        prev = o;
        continue;
      }
      runs.push(start === prev ? `${start}` : `${start}-${prev}`);
      start = o;
      prev = o;
    }
    parts.push(`${k}: ${runs.join(',')} (${offsets.length})`);
  }
  const index = v.lostInIndex.length > 0 ? [`${v.lostInIndex.length} missing in indexes`] : [];
  return [...parts, ...index].join('; ') || 'none';
}
