/**
 * The invariant checker: from the history of writes (with their outcomes), each region's index
 * and each copy topic, after the faults stopped and the system was given its quiet period:
 *
 *  - no loss: the final acknowledged version of every id is what every region's index holds
 *    (a newer version is allowed only if a write whose outcome was indeterminate produced it),
 *    and every acknowledged write is in every copy of its origin's topic;
 *  - no duplicates and per-partition order in every copy (read with read_committed), and no
 *    source record missing from a copy, acknowledged or not;
 *  - convergence: every region holds the same version (or tombstone, or nothing) for every id;
 *  - no phantoms: nothing in an index that no write could have produced.
 *
 * Pure: the runner gathers the inputs, this decides.
 */
import type { CopyAudit } from './copy-audit.ts';
import type { StoredDoc } from './index-snapshot.ts';
import type { WriteRecord } from './workload.ts';

export interface CheckInput {
  writes: readonly WriteRecord[];
  regions: readonly string[];
  /** Per region: what its index holds for the written ids; undefined when it could not be read. */
  snapshots: Readonly<Record<string, ReadonlyMap<string, StoredDoc> | undefined>>;
  audits: readonly CopyAudit[];
}

export interface LostInIndex {
  id: string;
  region: string;
  /** The final acknowledged version and operation. */
  expected: string;
  found: string;
}

export interface LostInCopy {
  n: number;
  id: string;
  from: string;
  to: string;
  at: string;
}

export interface Verdict {
  writes: { attempted: number; acked: number; failed: number; indeterminate: number };
  /** Distinct acknowledged writes not reflected somewhere (an index or a copy). */
  lost: number;
  lostInIndex: LostInIndex[];
  lostInCopies: LostInCopy[];
  /** Source records copied more than once, over all copies. */
  duplicated: number;
  /** Copied source partitions out of order, over all copies. */
  outOfOrder: number;
  misplaced: number;
  /** Source records (acknowledged or not) missing from a copy. */
  missingInCopies: number;
  /** Index entries newer than the final acknowledged version, produced by an indeterminate write. */
  indeterminateApplied: number;
  /** Index entries no write of the history explains. */
  phantoms: Array<{ id: string; region: string; found: string }>;
  /** Ids whose state differs between regions. */
  divergent: string[];
  converged: boolean;
  /** Regions whose index could not be read. */
  unreadable: string[];
}

export function check(input: CheckInput): Verdict {
  const acked = input.writes.filter((w) => w.outcome === 'acked');
  const finals = new Map<string, WriteRecord>();
  for (const w of acked) {
    const prev = finals.get(w.id);
    if (!prev || BigInt(w.version ?? '0') > BigInt(prev.version ?? '0')) finals.set(w.id, w);
  }
  const byId = new Map<string, WriteRecord[]>();
  for (const w of input.writes) byId.set(w.id, [...(byId.get(w.id) ?? []), w]);

  const lostInIndex: LostInIndex[] = [];
  const phantoms: Verdict['phantoms'] = [];
  let indeterminateApplied = 0;
  const unreadable = input.regions.filter((r) => input.snapshots[r] === undefined);
  for (const [id, writes] of byId) {
    const final = finals.get(id);
    for (const region of input.regions) {
      const snap = input.snapshots[region];
      if (!snap) continue;
      const doc = snap.get(id);
      const found = doc ? describe(doc) : 'nothing';
      if (final && (!doc || BigInt(doc.version) < BigInt(final.version ?? '0'))) {
        lostInIndex.push({ id, region, expected: `${final.op} ${final.version}`, found });
        continue;
      }
      if (!doc) continue;
      if (final && doc.version === final.version) {
        if (doc.deleted !== (final.op === 'delete')) lostInIndex.push({ id, region, expected: `${final.op} ${final.version}`, found });
        continue;
      }
      // Newer than anything acknowledged (or nothing was): only an indeterminate write explains it.
      const explained = writes.some((w) => w.outcome === 'indeterminate' && (doc.deleted ? w.op === 'delete' : w.op === 'upsert' && w.n === doc.w));
      if (explained) indeterminateApplied++;
      else phantoms.push({ id, region, found });
    }
  }

  const lostInCopies: LostInCopy[] = [];
  for (const a of input.audits) {
    for (const w of acked) {
      if (w.region !== a.source || w.partition === undefined || w.offset === undefined) continue;
      if (!a.copied.get(w.partition)?.has(w.offset)) lostInCopies.push({ n: w.n, id: w.id, from: a.source, to: a.target, at: `${w.partition}/${w.offset}` });
    }
  }

  const divergent: string[] = [];
  const readable = input.regions.filter((r) => input.snapshots[r] !== undefined);
  for (const id of byId.keys()) {
    const states = new Set(readable.map((r) => {
      const doc = input.snapshots[r]?.get(id);
      return doc ? `${doc.version}/${doc.deleted}` : 'absent';
    }));
    if (states.size > 1) divergent.push(id);
  }

  const lostWrites = new Set<number>([...lostInCopies.map((l) => l.n), ...lostInIndex.map((l) => finals.get(l.id)?.n ?? -1)]);
  return {
    writes: { attempted: input.writes.length, acked: acked.length, failed: input.writes.filter((w) => w.outcome === 'failed').length, indeterminate: input.writes.filter((w) => w.outcome === 'indeterminate').length },
    lost: lostWrites.size,
    lostInIndex,
    lostInCopies,
    duplicated: sum(input.audits.map((a) => a.duplicates.length)),
    outOfOrder: sum(input.audits.map((a) => a.outOfOrder.length)),
    misplaced: sum(input.audits.map((a) => a.misplaced)),
    missingInCopies: sum(input.audits.map((a) => a.missing.length)),
    indeterminateApplied,
    phantoms,
    divergent,
    converged: divergent.length === 0 && unreadable.length === 0,
    unreadable,
  };
}

function describe(doc: StoredDoc): string {
  return `${doc.deleted ? 'tombstone' : 'document'} ${doc.version}`;
}

function sum(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0);
}
