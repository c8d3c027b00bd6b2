/**
 * Recent failovers for the status page: runs of searches served away from their nearest region,
 * merged while the same (from, to, cause) keeps happening, so a 10-minute outage is one line
 * with a count, not thousands.
 */
export interface FailoverEvent {
  from: string;
  to: string;
  cause: string;
  firstAt: number;
  lastAt: number;
  count: number;
}

export class FailoverLog {
  private readonly events: FailoverEvent[] = [];

  constructor(
    private readonly capacity = 20,
    /** A gap longer than this starts a new line. */
    private readonly mergeWithinMs = 5_000,
  ) {}

  record(from: string, to: string, cause: string, now = Date.now()): void {
    for (let i = this.events.length - 1; i >= 0 && i >= this.events.length - 6; i--) {
      const e = this.events[i] as FailoverEvent;
      if (e.from === from && e.to === to && e.cause === cause && now - e.lastAt <= this.mergeWithinMs) {
        e.lastAt = now;
        e.count++;
        return;
      }
    }
    this.events.push({ from, to, cause, firstAt: now, lastAt: now, count: 1 });
    if (this.events.length > this.capacity) this.events.shift();
  }

  /** Newest first. */
  recent(): FailoverEvent[] {
    return this.events.map((e) => ({ ...e })).reverse();
  }
}
