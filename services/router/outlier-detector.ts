/**
 * Passive outlier detection on real searches, per region: `consecutiveErrors` failures in a row
 * (connect error, 5xx, per-try timeout) eject the region for base × n, where n counts its
 * ejections, capped at `maxEjectionMs`. n goes back to 0 once the region has gone `maxEjectionMs`
 * without being ejected, so an old incident does not lengthen the next one forever.
 */
export interface OutlierOptions {
  consecutiveErrors: number;
  baseEjectionMs: number;
  maxEjectionMs: number;
  now?: () => number;
}

export interface Ejection {
  until: number;
  durationMs: number;
  /** How many times in a row the region has been ejected (this one included). */
  count: number;
}

export class OutlierDetector {
  private errors = 0;
  private ejections = 0;
  private ejectedUntil = 0;
  private lastEjectedAt = -Infinity;
  private readonly now: () => number;

  constructor(private readonly o: OutlierOptions) {
    this.now = o.now ?? Date.now;
  }

  success(): void {
    this.errors = 0;
  }

  /**
   * Records a failure; returns the ejection it caused, if any. `mayEject` false (too many regions
   * ejected already) keeps the region in: the errors count on, so it is ejected as soon as allowed.
   */
  failure(mayEject = true): Ejection | undefined {
    const now = this.now();
    if (this.isEjected(now)) return undefined;
    this.errors++;
    if (this.errors < this.o.consecutiveErrors || !mayEject) return undefined;
    if (now - this.lastEjectedAt > this.o.maxEjectionMs + this.currentDuration()) this.ejections = 0;
    this.ejections++;
    this.errors = 0;
    const durationMs = this.currentDuration();
    this.ejectedUntil = now + durationMs;
    this.lastEjectedAt = now;
    return { until: this.ejectedUntil, durationMs, count: this.ejections };
  }

  isEjected(now = this.now()): boolean {
    return now < this.ejectedUntil;
  }

  state(now = this.now()): { ejected: boolean; until: number | null; count: number; consecutiveErrors: number } {
    const ejected = this.isEjected(now);
    return { ejected, until: ejected ? this.ejectedUntil : null, count: this.ejections, consecutiveErrors: this.errors };
  }

  private currentDuration(): number {
    return Math.min(this.o.maxEjectionMs, this.o.baseEjectionMs * Math.max(1, this.ejections));
  }
}
