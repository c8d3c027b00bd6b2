/**
 * Counts events over a sliding window of whole-second buckets: the retry and hedge budgets and
 * the status page's traffic shares read it. O(1) per event, no timers.
 */
export class RateWindow {
  private readonly counts: number[];
  private readonly stamps: number[];

  constructor(
    /** Window length in seconds. */
    readonly windowSec: number,
    private readonly now: () => number = Date.now,
  ) {
    this.counts = new Array<number>(windowSec).fill(0);
    this.stamps = new Array<number>(windowSec).fill(-1);
  }

  add(n = 1): void {
    const second = Math.floor(this.now() / 1000);
    const i = second % this.windowSec;
    if (this.stamps[i] !== second) {
      this.stamps[i] = second;
      this.counts[i] = 0;
    }
    this.counts[i] = (this.counts[i] ?? 0) + n;
  }

  /** Events in the last `windowSec` seconds, the current one included. */
  total(): number {
    const oldest = Math.floor(this.now() / 1000) - this.windowSec + 1;
    let sum = 0;
    for (let i = 0; i < this.windowSec; i++) if ((this.stamps[i] ?? -1) >= oldest) sum += this.counts[i] ?? 0;
    return sum;
  }
}
