/**
 * The observer: when is each sampled document searchable, in each region? Every `pollMs`, per
 * region, one search on the run's alias asks for the sampled documents that are due (by the
 * writer's fixed schedule) and not yet found: an `ids` filter plus the live-documents filter every
 * search uses, returning only `_georeplica_version`. A search, not a GET or `_mget`: those are
 * real-time (they read the translog) and would see a document before a refresh makes it
 * searchable. A document counts as searchable at the arrival of the first answer that holds it
 * with the version its 202 carried (checked by the caller): an upper bound, at most one poll
 * interval plus one search round trip late; the previous search's send time (a lower bound) is
 * kept too.
 *
 * Asking only for documents not yet found keeps each search small whatever the backlog, so the
 * observer's load does not grow with the latency it measures. It runs in a process of its own
 * (observer-child.ts), so the writer's work never delays its timestamps.
 */
import { sleep } from '../../core/retry.ts';
import { liveDocumentsFilter, VERSION_FIELD } from '../../services/indexer/tombstone.ts';
import { wallNow } from '../support/kafka-bench.ts';
import { percentile, round } from '../support/stats.ts';
import { documentId, seqOf } from './documents.ts';

export interface WatchPlan {
  regions: Array<{ region: string; searchUrl: string }>;
  alias: string;
  tag: string;
  rate: number;
  count: number;
  /** Wall time (ms since the epoch) document 0 is due. */
  startAt: number;
  sampleEvery: number;
  pollMs: number;
  /** Largest ids filter of one search; the oldest missing documents go first. */
  maxIdsPerSearch: number;
}

export interface RegionSeen {
  region: string;
  /** Per sampled document (index k ↔ seq k × sampleEvery): arrival of the first answer holding it. */
  seenAt: Array<number | null>;
  /** Send time of the search before that one in this region (the lower bound). */
  previousSearchAt: Array<number | null>;
  versions: Array<string | null>;
  searches: number;
  failedSearches: number;
  lastError: string | undefined;
  /** Round trip of one search (send → answer parsed), ms. */
  searchMs: { p50: number; p99: number; max: number };
  /** Time between the starts of two searches, ms (pollMs unless searches are slower). */
  intervalMs: { p50: number; p99: number; max: number };
  /** Ids per search (the missing sampled documents that were due), and searches that hit maxIdsPerSearch. */
  idsPerSearch: { p50: number; p99: number; max: number };
  cappedSearches: number;
}

interface Hit {
  _id: string;
  _source?: Record<string, unknown>;
}

class RegionWatcher {
  readonly seenAt: Float64Array;
  readonly previousSearchAt: Float64Array;
  readonly versions: Array<string | null>;
  private readonly unseen: number[] = [];
  private nextSampled = 0;
  private readonly roundTrips: number[] = [];
  private readonly intervals: number[] = [];
  private readonly idCounts: number[] = [];
  private capped = 0;
  private searches = 0;
  private failed = 0;
  private lastError: string | undefined;
  private stopped = false;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly plan: WatchPlan,
    private readonly target: { region: string; searchUrl: string },
  ) {
    const sampled = Math.ceil(plan.count / plan.sampleEvery);
    this.seenAt = new Float64Array(sampled).fill(Number.NaN);
    this.previousSearchAt = new Float64Array(sampled).fill(Number.NaN);
    this.versions = new Array<string | null>(sampled).fill(null);
  }

  get complete(): boolean {
    return this.nextSampled >= this.seenAt.length && this.unseen.length === 0;
  }

  start(): void {
    this.loop ??= this.run();
  }

  /** From now on, waits only for the sampled documents in `expected` (the others' writes got no 202). */
  restrict(expected: ReadonlySet<number>): void {
    for (; this.nextSampled < this.seenAt.length; this.nextSampled++) this.unseen.push(this.nextSampled);
    let w = 0;
    for (const k of this.unseen) if (expected.has(k)) this.unseen[w++] = k;
    this.unseen.length = w;
  }

  async stop(): Promise<RegionSeen> {
    this.stopped = true;
    await this.loop;
    const nullable = (a: Float64Array): Array<number | null> => Array.from(a, (x) => (Number.isNaN(x) ? null : round(x, 3)));
    const stats = (v: number[]): { p50: number; p99: number; max: number } => {
      const s = Float64Array.from(v).sort();
      return { p50: round(percentile(s, 50), 1), p99: round(percentile(s, 99), 1), max: round(s[s.length - 1] ?? Number.NaN, 1) };
    };
    return {
      region: this.target.region,
      seenAt: nullable(this.seenAt),
      previousSearchAt: nullable(this.previousSearchAt),
      versions: this.versions,
      searches: this.searches,
      failedSearches: this.failed,
      lastError: this.lastError,
      searchMs: stats(this.roundTrips),
      intervalMs: stats(this.intervals),
      idsPerSearch: stats(this.idCounts),
      cappedSearches: this.capped,
    };
  }

  private async run(): Promise<void> {
    const p = this.plan;
    let previousStart = Number.NaN;
    while (!this.stopped && !this.complete) {
      const start = wallNow();
      const due = Math.min(p.count, Math.floor(((start - p.startAt) * p.rate) / 1000) + 1);
      while (this.nextSampled < this.seenAt.length && this.nextSampled * p.sampleEvery < due) this.unseen.push(this.nextSampled++);
      if (this.unseen.length > 0) {
        if (!Number.isNaN(previousStart)) this.intervals.push(start - previousStart);
        this.idCounts.push(Math.min(this.unseen.length, p.maxIdsPerSearch));
        if (this.unseen.length > p.maxIdsPerSearch) this.capped++;
        await this.search(this.unseen.slice(0, p.maxIdsPerSearch), start, previousStart);
        previousStart = start;
      }
      await sleep(Math.max(0, start + p.pollMs - wallNow()));
    }
  }

  private async search(batch: number[], sentAt: number, previousSentAt: number): Promise<void> {
    const p = this.plan;
    const ids = batch.map((k) => documentId(p.tag, k * p.sampleEvery));
    const body = { size: ids.length, track_total_hits: false, _source: [VERSION_FIELD], query: { bool: { filter: [{ ids: { values: ids } }, liveDocumentsFilter()] } } };
    this.searches++;
    let hits: Hit[];
    try {
      const res = await fetch(`${this.target.searchUrl}/${p.alias}/_search`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(10_000) });
      const json = (await res.json()) as { hits?: { hits?: Hit[] }; error?: { type?: string } };
      if (res.status === 404) hits = []; // the index does not exist yet
      else if (res.status !== 200) throw new Error(`search answered ${res.status}: ${JSON.stringify(json.error ?? json).slice(0, 200)}`);
      else hits = json.hits?.hits ?? [];
    } catch (err) {
      this.failed++;
      this.lastError = (err as Error).message;
      return;
    }
    const at = wallNow();
    this.roundTrips.push(at - sentAt);
    if (hits.length === 0) return;
    const found = new Set<number>();
    for (const h of hits) {
      const seq = seqOf(p.tag, h._id);
      if (seq < 0 || seq % p.sampleEvery !== 0) continue;
      const k = seq / p.sampleEvery;
      if (!Number.isNaN(this.seenAt[k])) continue;
      this.seenAt[k] = at;
      this.previousSearchAt[k] = previousSentAt;
      const v = h._source?.[VERSION_FIELD];
      this.versions[k] = typeof v === 'string' ? v : null;
      found.add(k);
    }
    if (found.size === 0) return;
    let w = 0;
    for (let r = 0; r < this.unseen.length; r++) {
      const k = this.unseen[r] as number;
      if (!found.has(k)) this.unseen[w++] = k;
    }
    this.unseen.length = w;
  }
}

export class SearchObserver {
  private readonly watchers: RegionWatcher[];

  constructor(readonly plan: WatchPlan) {
    this.watchers = plan.regions.map((r) => new RegionWatcher(plan, r));
  }

  start(): void {
    for (const w of this.watchers) w.start();
  }

  /**
   * Keeps looking until every sampled document in `expected` (indexes k; all when undefined) was
   * found everywhere or `timeoutMs` passed. Call it once the writer is done.
   */
  async finish(timeoutMs: number, expected?: readonly number[]): Promise<RegionSeen[]> {
    if (expected) {
      const set = new Set(expected);
      for (const w of this.watchers) w.restrict(set);
    }
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline && this.watchers.some((w) => !w.complete)) await sleep(50);
    return Promise.all(this.watchers.map((w) => w.stop()));
  }
}
