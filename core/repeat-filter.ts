/**
 * Holds back repeats of the same log line. librdkafka reports a state such as "all broker
 * connections are down" once per broker connection attempt and per client: during a region
 * outage that was dozens of identical error lines per millisecond (seen in CI, 2026-12-06),
 * enough to steal CPU from the flows that were still healthy. The first line of a run goes
 * through; repeats within the window are counted, and the first one after it goes through with
 * the count, so nothing is hidden: only the repetition is.
 */
export class RepeatFilter {
  private readonly seen = new Map<string, { until: number; held: number }>();

  constructor(
    private readonly windowMs = 30_000,
    private readonly now: () => number = Date.now,
    /** Keys remembered at most; the oldest is forgotten first (its next repeat logs again). */
    private readonly maxKeys = 256,
  ) {}

  /** undefined: hold this line back. A number: log it, with that many held back before it. */
  admit(key: string): number | undefined {
    const t = this.now();
    const entry = this.seen.get(key);
    if (entry !== undefined && t < entry.until) {
      entry.held++;
      return undefined;
    }
    const held = entry?.held ?? 0;
    this.seen.delete(key);
    this.seen.set(key, { until: t + this.windowMs, held: 0 });
    if (this.seen.size > this.maxKeys) this.seen.delete(this.seen.keys().next().value as string);
    return held;
  }
}
