/**
 * Active health checks of one region: `GET /health` every `intervalMs` (the endpoint answers
 * from a cache, so this is cheap). A region turns unhealthy after `fall` failed probes in a row
 * and healthy again after `rise` good ones, so one lost probe cannot make it flap. The very
 * first probe decides at once: a router that just started has no state to protect.
 *
 * A probe is good when the endpoint answers 200 (status ok or degraded: it can serve searches).
 * Each probe also brings the region's freshness per source and a round-trip sample (EWMA).
 */
import { request } from 'node:http';
import type { Agent } from 'node:http';
import type { Logger } from '../../core/logger.ts';
import { Ewma } from './latency-tracker.ts';

export interface ProbeSettings {
  intervalMs: number;
  timeoutMs: number;
  rise: number;
  fall: number;
}

export interface ProbeResult {
  ok: boolean;
  /** The endpoint's own status word, or why the probe failed (e.g. "unreachable", "timeout", "http 503"). */
  status: string;
  freshness: Record<string, number | null>;
  maxFreshnessMs: number | null;
  ms: number;
}

export interface HealthState {
  /** undefined until the first probe has answered. */
  healthy: boolean | undefined;
  status: string;
  lastProbeAt: number | null;
  freshness: Record<string, number | null>;
  maxFreshnessMs: number | null;
  rttMs: number | undefined;
  consecutive: { ok: number; failed: number };
}

export class HealthProber {
  private healthy: boolean | undefined;
  private ok = 0;
  private failed = 0;
  private last: ProbeResult | undefined;
  private lastAt: number | null = null;
  private readonly rtt = new Ewma(0.3);
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private inFlight: Promise<void> | undefined;

  constructor(
    private readonly o: {
      region: string;
      host: string;
      port: number;
      settings: ProbeSettings;
      agent: Agent;
      log: Logger;
      /** Called when healthy changes (not on the first decision). */
      onChange?: (healthy: boolean, result: ProbeResult) => void;
      onProbe?: (result: ProbeResult) => void;
    },
  ) {}

  /** Probes once right away (resolving when that first probe is done), then every interval. */
  start(): Promise<void> {
    const first = this.probeOnce();
    void first.then(() => this.schedule());
    return first;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.inFlight;
  }

  state(): HealthState {
    return {
      healthy: this.healthy,
      status: this.last?.status ?? 'unknown',
      lastProbeAt: this.lastAt,
      freshness: this.last?.freshness ?? {},
      maxFreshnessMs: this.last?.maxFreshnessMs ?? null,
      rttMs: this.rtt.value,
      consecutive: { ok: this.ok, failed: this.failed },
    };
  }

  /** Feeds one probe result through the rise/fall thresholds (exposed for tests). */
  record(result: ProbeResult, now = Date.now()): void {
    this.last = result;
    this.lastAt = now;
    if (result.ok) {
      this.rtt.add(result.ms);
      this.ok++;
      this.failed = 0;
    } else {
      this.failed++;
      this.ok = 0;
    }
    const before = this.healthy;
    if (before === undefined) this.healthy = result.ok;
    else if (!before && this.ok >= this.o.settings.rise) this.healthy = true;
    else if (before && this.failed >= this.o.settings.fall) this.healthy = false;
    this.o.onProbe?.(result);
    if (before !== undefined && before !== this.healthy) {
      this.o.log.warn({ region: this.o.region, healthy: this.healthy, status: result.status }, this.healthy ? 'region healthy again' : 'region unhealthy');
      this.o.onChange?.(this.healthy as boolean, result);
    }
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      void this.probeOnce().then(() => this.schedule());
    }, this.o.settings.intervalMs);
  }

  private probeOnce(): Promise<void> {
    const p = probe(this.o.host, this.o.port, this.o.settings.timeoutMs, this.o.agent).then((r) => {
      if (!this.stopped) this.record(r);
    });
    this.inFlight = p;
    return p;
  }
}

/** One GET /health; never rejects. */
export function probe(host: string, port: number, timeoutMs: number, agent: Agent): Promise<ProbeResult> {
  const t0 = performance.now();
  return new Promise<ProbeResult>((resolve) => {
    let done = false;
    const finish = (r: Omit<ProbeResult, 'ms'>): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve({ ...r, ms: performance.now() - t0 });
    };
    const failed = (status: string): void => finish({ ok: false, status, freshness: {}, maxFreshnessMs: null });
    const req = request({ host, port, path: '/health', method: 'GET', agent, headers: { accept: 'application/json' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', () => failed('unreachable'));
      res.on('end', () => {
        const body = parseHealth(Buffer.concat(chunks).toString('utf8'));
        const code = res.statusCode ?? 0;
        const ok = code === 200 && body.status !== 'down';
        finish({ ok, status: ok ? body.status : code === 200 ? body.status : `http ${code}${body.status === 'unknown' ? '' : ` (${body.status})`}`, freshness: body.freshness, maxFreshnessMs: body.maxFreshnessMs });
      });
    });
    const timer = setTimeout(() => {
      failed('timeout');
      req.destroy();
    }, timeoutMs);
    req.on('error', () => failed('unreachable'));
    req.end();
  });
}

function parseHealth(text: string): { status: string; freshness: Record<string, number | null>; maxFreshnessMs: number | null } {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return { status: 'unknown', freshness: {}, maxFreshnessMs: null };
  }
  const o = (v ?? {}) as { status?: unknown; freshness?: unknown; maxFreshnessMs?: unknown };
  const freshness: Record<string, number | null> = {};
  if (o.freshness !== null && typeof o.freshness === 'object') {
    for (const [source, ms] of Object.entries(o.freshness as Record<string, unknown>)) freshness[source] = typeof ms === 'number' && Number.isFinite(ms) ? ms : null;
  }
  return {
    status: typeof o.status === 'string' ? o.status : 'unknown',
    freshness,
    maxFreshnessMs: typeof o.maxFreshnessMs === 'number' && Number.isFinite(o.maxFreshnessMs) ? o.maxFreshnessMs : null,
  };
}
