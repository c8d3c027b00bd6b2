/**
 * Everything one router knows about one region: its upstream client, active health, passive
 * outlier state, traffic phase (drain, catch-up, slow start), latencies and what it served.
 */
import { Agent } from 'node:http';
import type { RouterConfig } from '../../config/schema.ts';
import type { Logger } from '../../core/logger.ts';
import type { DrainRecord } from './drain-record.ts';
import { HealthProber } from './health-prober.ts';
import type { ProbeResult } from './health-prober.ts';
import { LatencyWindow } from './latency-tracker.ts';
import { OutlierDetector } from './outlier-detector.ts';
import { RateWindow } from './rate-window.ts';
import type { RegionView } from './route-plan.ts';
import type { RegionStatus } from './router-status.ts';
import { TrafficState } from './traffic-phase.ts';
import { UpstreamClient } from './upstream-client.ts';

export interface RegionMonitorOptions {
  region: string;
  host: string;
  port: number;
  settings: Readonly<RouterConfig>;
  log: Logger;
  now: () => number;
  onHealthChange?: (region: string, healthy: boolean, result: ProbeResult) => void;
  onProbe?: (region: string, result: ProbeResult) => void;
}

export class RegionMonitor {
  readonly region: string;
  readonly upstream: UpstreamClient;
  readonly prober: HealthProber;
  readonly outlier: OutlierDetector;
  readonly traffic: TrafficState;
  readonly latencies = new LatencyWindow();
  readonly served: RateWindow;
  inFlight = 0;
  drain: DrainRecord | null = null;
  private readonly probeAgent: Agent;
  private wasOut = false;

  constructor(private readonly o: RegionMonitorOptions) {
    this.region = o.region;
    const s = o.settings;
    this.upstream = new UpstreamClient(o.region, o.host, o.port);
    // Probes get their own small pool so a flood of searches never queues them.
    this.probeAgent = new Agent({ keepAlive: true, maxSockets: 2 });
    this.prober = new HealthProber({
      region: o.region,
      host: o.host,
      port: o.port,
      settings: s.probe,
      agent: this.probeAgent,
      log: o.log,
      onChange: (healthy, r) => o.onHealthChange?.(o.region, healthy, r),
      onProbe: (r) => o.onProbe?.(o.region, r),
    });
    this.outlier = new OutlierDetector({ ...s.outlier, now: o.now });
    this.traffic = new TrafficState(s.slowStartMs);
    this.served = new RateWindow(60, o.now);
  }

  /** Fresh: every source's freshness is known and within the bound. */
  isFresh(): boolean {
    const f = Object.values(this.prober.state().freshness);
    return f.length > 0 && f.every((ms) => ms !== null && ms <= this.o.settings.freshnessBoundMs);
  }

  /** The routing view now; also advances the traffic phase (catch-up gate, ramps, recovery). */
  view(now = this.o.now()): RegionView {
    const h = this.prober.state();
    const healthy = h.healthy === true;
    const ejected = this.outlier.isEjected(now);
    const fresh = this.isFresh();
    // Unknown (no probe decided yet) is not "out": a router that just started has nothing to
    // recover from, and ramping every region at once would only push searches away from the nearest.
    const out = h.healthy === false || ejected;
    if (this.wasOut && !out && healthy) this.traffic.recovered(now);
    this.wasOut = out;
    this.traffic.tick(now, healthy && !ejected && fresh);
    return { region: this.region, healthy, ejected, phase: this.traffic.phase(), weight: this.traffic.weight(now), rampCause: this.traffic.rampCause(), fresh, maxFreshnessMs: maxOf(h.freshness), lagSumMs: lagSumOf(h.freshness) };
  }

  status(now: number, totalServed: number): RegionStatus {
    const v = this.view(now);
    const h = this.prober.state();
    const o = this.outlier.state(now);
    const servedLastMinute = this.served.total();
    return {
      region: this.region,
      healthy: v.healthy,
      health: h.status,
      lastProbeAt: h.lastProbeAt === null ? null : new Date(h.lastProbeAt).toISOString(),
      ejected: o.ejected,
      ejectedUntil: o.until === null ? null : new Date(o.until).toISOString(),
      ejections: o.count,
      phase: v.phase,
      weight: round(v.weight, 3),
      drain: this.drain,
      freshness: h.freshness,
      maxFreshnessMs: v.maxFreshnessMs,
      fresh: v.fresh,
      rttMs: h.rttMs === undefined ? null : round(h.rttMs, 2),
      inFlight: this.inFlight,
      servedLastMinute,
      share: totalServed === 0 ? 0 : round(servedLastMinute / totalServed, 3),
    };
  }

  async close(): Promise<void> {
    await this.prober.stop();
    this.upstream.close();
    this.probeAgent.destroy();
  }
}

/** The largest freshness over the sources; null when none is reported or any is unknown. */
function maxOf(freshness: Record<string, number | null>): number | null {
  const values = Object.values(freshness);
  if (values.length === 0 || values.some((v) => v === null)) return null;
  return Math.max(...(values as number[]));
}

/** Sum over sources of their freshness; an unknown source counts as an hour, none reported as a day. */
function lagSumOf(freshness: Record<string, number | null>): number {
  const values = Object.values(freshness);
  if (values.length === 0) return 86_400_000;
  return values.reduce<number>((sum, v) => sum + (v === null ? 3_600_000 : v), 0);
}

function round(n: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}
