/**
 * Per-region latency statistics: an EWMA of probe round trips (ranking) and the p95 of recent
 * successful searches (when to hedge).
 */

/** Exponentially weighted moving average; the first sample is taken as is. */
export class Ewma {
  private current: number | undefined;

  constructor(private readonly alpha = 0.3) {}

  add(sample: number): void {
    this.current = this.current === undefined ? sample : this.alpha * sample + (1 - this.alpha) * this.current;
  }

  get value(): number | undefined {
    return this.current;
  }
}

/** The last `size` samples; percentiles are recomputed at most every `size / 8` samples, so reading is cheap on the hot path. */
export class LatencyWindow {
  private readonly samples: number[] = [];
  private next = 0;
  private sinceSort = 0;
  private cachedP95: number | undefined;

  constructor(
    private readonly size = 256,
    /** Below this many samples there is no p95 (and so no hedging). */
    private readonly minSamples = 20,
  ) {}

  add(ms: number): void {
    if (this.samples.length < this.size) this.samples.push(ms);
    else this.samples[this.next] = ms;
    this.next = (this.next + 1) % this.size;
    this.sinceSort++;
  }

  get count(): number {
    return this.samples.length;
  }

  p95(): number | undefined {
    if (this.samples.length < this.minSamples) return undefined;
    if (this.cachedP95 === undefined || this.sinceSort >= this.size / 8) {
      const sorted = [...this.samples].sort((a, b) => a - b);
      this.cachedP95 = sorted[Math.min(sorted.length - 1, Math.ceil(0.95 * sorted.length) - 1)];
      this.sinceSort = 0;
    }
    return this.cachedP95;
  }
}
