/**
 * A token bucket for a bandwidth cap. `reserve(n)` takes n bytes' worth of tokens at once and
 * says how long to wait before sending them: the level may go negative (debt), so a chunk larger
 * than the burst is still sent whole, just later, and throughput over any window stays at the
 * rate plus one burst. Shared by every connection of a link's direction.
 */
export class TokenBucket {
  private level: number;
  private last: number;

  constructor(
    readonly rateBytesPerSec: number,
    readonly burstBytes: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.level = burstBytes;
    this.last = now();
  }

  /** Milliseconds to wait before `bytes` may be sent (0 when the tokens are there). */
  reserve(bytes: number): number {
    const t = this.now();
    this.level = Math.min(this.burstBytes, this.level + ((t - this.last) * this.rateBytesPerSec) / 1000);
    this.last = t;
    this.level -= bytes;
    return this.level >= 0 ? 0 : (-this.level * 1000) / this.rateBytesPerSec;
  }
}

/** The burst allowed on top of the rate: 50 ms worth, at least 16 KiB (one typical socket read). */
export function defaultBurst(rateBytesPerSec: number): number {
  return Math.max(16 * 1024, Math.round(rateBytesPerSec / 20));
}
