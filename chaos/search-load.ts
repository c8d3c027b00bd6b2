/**
 * The search side of the workload, as clients see it: searches at a fixed rate, each for a
 * client of one region in turn (X-Client-Region). Through routers, a client tries the next
 * router instance when one cannot be reached at all (what a client-side balancer or DNS with
 * several records does); any answer but 200, or no answer, after that is a client-visible
 * error. Through regions, each search goes to the client region's own search API only.
 */
export interface SearchRecord {
  /** Milliseconds since the load started. */
  startedAt: number;
  endedAt: number;
  clientRegion: string;
  ok: boolean;
  status: number | undefined;
  /** X-Served-By-Region of a successful answer. */
  servedBy: string | undefined;
  /** X-Freshness-Ms of a successful answer: how stale the region that served it said it was. */
  freshnessMs: number | undefined;
  /** Router or search API that answered (or the last one tried). */
  via: string;
  error?: string;
}

export interface SearchLoadOptions {
  via: 'routers' | 'regions';
  /** Router base URLs (via routers) or search API base URL per region (via regions). */
  routers: readonly string[];
  searchApis: Readonly<Record<string, string>>;
  searchesPerSec: number;
  t0: number;
  timeoutMs?: number;
}

export class SearchLoad {
  readonly records: SearchRecord[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly pending = new Set<Promise<void>>();
  private seq = 0;
  private readonly regions: string[];

  constructor(private readonly o: SearchLoadOptions) {
    this.regions = Object.keys(o.searchApis);
  }

  start(): void {
    if (this.o.searchesPerSec <= 0) return;
    const intervalMs = 1000 / this.o.searchesPerSec;
    const startedAt = performance.now();
    let issued = 0;
    this.timer = setInterval(() => {
      const due = Math.floor((performance.now() - startedAt) / intervalMs);
      for (; issued < due; issued++) {
        const p = this.search(this.seq++);
        this.pending.add(p);
        void p.finally(() => this.pending.delete(p));
      }
    }, Math.max(5, Math.min(50, intervalMs)));
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await Promise.all([...this.pending]);
  }

  private async search(n: number): Promise<void> {
    const clientRegion = this.regions[n % this.regions.length] as string;
    const rec: SearchRecord = { startedAt: performance.now() - this.o.t0, endedAt: 0, clientRegion, ok: false, status: undefined, servedBy: undefined, freshnessMs: undefined, via: '' };
    const targets = this.o.via === 'routers' ? rotate(this.o.routers, n) : [this.o.searchApis[clientRegion] as string];
    for (const base of targets) {
      rec.via = base;
      try {
        const res = await fetch(`${base}/search?q=chaos&size=5`, { headers: { 'x-client-region': clientRegion }, signal: AbortSignal.timeout(this.o.timeoutMs ?? 5_000) });
        await res.arrayBuffer();
        rec.status = res.status;
        rec.ok = res.status === 200;
        if (rec.ok) {
          rec.servedBy = res.headers.get('x-served-by-region') ?? clientRegion;
          const f = res.headers.get('x-freshness-ms');
          if (f !== null) rec.freshnessMs = Number(f);
        } else {
          rec.error = `HTTP ${res.status}`;
        }
        break;
      } catch (err) {
        // Unreachable or no answer in time: a client with several routers tries the next one.
        rec.error = (err as Error).message;
      }
    }
    rec.endedAt = performance.now() - this.o.t0;
    this.records.push(rec);
  }
}

function rotate<T>(items: readonly T[], n: number): T[] {
  const k = n % Math.max(1, items.length);
  return [...items.slice(k), ...items.slice(0, k)];
}
