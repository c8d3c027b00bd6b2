/**
 * Measured freshness: every so often a probe document is written in one region (in turn) and
 * looked for in every other region's search API until it shows up. The lag of a probe in a
 * region is from the write's acknowledgement to the first search that finds it, so it covers
 * replication, indexing and the index refresh, as a client would experience it.
 */
import { sleep } from '../core/retry.ts';
import type { Workload } from './workload.ts';

export interface ProbeResult {
  id: string;
  from: string;
  /** Milliseconds since the load started. */
  ackedAt: number;
  /** Lag per other region; undefined while not seen (yet). */
  lagMs: Record<string, number | undefined>;
}

export interface FreshnessProbeOptions {
  workload: Workload;
  searchApis: Readonly<Record<string, string>>;
  everyMs: number;
  idPrefix: string;
  t0: number;
  /** Probes being looked for at once; a new one is skipped while this many are pending. */
  maxPending?: number;
}

const POLL_MS = 500;

export class FreshnessProbe {
  readonly results: ProbeResult[] = [];
  private issuing = false;
  private watching = false;
  private loop: Promise<void> | undefined;
  private readonly watchers = new Set<Promise<void>>();
  private readonly regions: string[];

  constructor(private readonly o: FreshnessProbeOptions) {
    this.regions = Object.keys(o.searchApis);
  }

  start(): void {
    this.issuing = true;
    this.watching = true;
    this.loop = (async () => {
      for (let k = 0; this.issuing; k++) {
        if (this.watchers.size < (this.o.maxPending ?? 10)) {
          const w = this.probe(k);
          this.watchers.add(w);
          void w.finally(() => this.watchers.delete(w));
        }
        await sleep(this.o.everyMs);
      }
    })();
  }

  /** No new probes; those pending are still looked for until `stopWatching`. */
  async stopIssuing(): Promise<void> {
    this.issuing = false;
    await this.loop;
  }

  /** Ends the search for pending probes (their missing regions stay undefined). */
  async stopWatching(): Promise<void> {
    this.watching = false;
    await Promise.all([...this.watchers]);
  }

  private async probe(k: number): Promise<void> {
    const from = this.regions[k % this.regions.length] as string;
    const token = `${this.o.idPrefix}-probe-${k}`;
    const rec = await this.o.workload.writeOne(from, token, { probe: token, title: 'freshness probe' });
    if (rec.outcome !== 'acked') return;
    const result: ProbeResult = { id: token, from, ackedAt: rec.endedAt, lagMs: {} };
    this.results.push(result);
    const others = this.regions.filter((r) => r !== from);
    while (this.watching && others.some((r) => result.lagMs[r] === undefined)) {
      await Promise.all(
        others
          .filter((r) => result.lagMs[r] === undefined)
          .map(async (r) => {
            if (await this.visible(r, token)) result.lagMs[r] = performance.now() - this.o.t0 - result.ackedAt;
          }),
      );
      await sleep(POLL_MS);
    }
  }

  private async visible(region: string, token: string): Promise<boolean> {
    try {
      const res = await fetch(`${this.o.searchApis[region]}/search`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ filters: { probe: token }, size: 1 }), signal: AbortSignal.timeout(3_000) });
      if (res.status !== 200) return false;
      return ((await res.json()) as { total?: number }).total === 1;
    } catch {
      return false;
    }
  }
}
