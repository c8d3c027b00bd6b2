/** What a router reports about itself (`GET /status`, the status page, the drain CLI). */
import type { BudgetSnapshot } from './budget.ts';
import type { DrainRecord } from './drain-record.ts';
import type { FailoverEvent } from './failover-log.ts';
import type { TrafficPhase } from './traffic-phase.ts';

export interface RegionStatus {
  region: string;
  healthy: boolean;
  /** The endpoint's status word from the last probe, or why the probe failed. */
  health: string;
  lastProbeAt: string | null;
  ejected: boolean;
  ejectedUntil: string | null;
  ejections: number;
  phase: TrafficPhase;
  weight: number;
  drain: DrainRecord | null;
  freshness: Record<string, number | null>;
  maxFreshnessMs: number | null;
  fresh: boolean;
  rttMs: number | null;
  /** Tries to this region in flight now. */
  inFlight: number;
  /** Searches it served over the last minute, and their share of all served. */
  servedLastMinute: number;
  share: number;
}

export interface RouterStatus {
  /** The region this router runs in (its own nearest by default). */
  region: string;
  instance: string;
  startedAt: string;
  freshnessBoundMs: number;
  regions: RegionStatus[];
  failovers: FailoverEvent[];
  budgets: { retry: BudgetSnapshot; hedge: BudgetSnapshot };
}
