/**
 * A request budget (Envoy's retry budget, as a rate): over the last `windowSec` seconds, extra
 * requests (retries, or hedges) may be at most `ratio` × live requests + `minPerSec` × window.
 * So an outage costs at most that many extra requests instead of multiplying the load by the
 * number of regions (a retry storm).
 */
import { RateWindow } from './rate-window.ts';

export interface BudgetOptions {
  ratio: number;
  minPerSec: number;
  windowSec?: number;
  now?: () => number;
}

export interface BudgetSnapshot {
  /** Live requests in the window. */
  requests: number;
  /** Extra requests granted in the window. */
  used: number;
  /** Extra requests refused in the window. */
  denied: number;
  /** Extra requests the window allows in all (used ones included). */
  allowed: number;
}

export class Budget {
  private readonly requests: RateWindow;
  private readonly used: RateWindow;
  private readonly denied: RateWindow;

  constructor(private readonly o: BudgetOptions) {
    const windowSec = o.windowSec ?? 10;
    this.requests = new RateWindow(windowSec, o.now);
    this.used = new RateWindow(windowSec, o.now);
    this.denied = new RateWindow(windowSec, o.now);
  }

  /** A live request arrived (counted once, however many tries it takes). */
  recordRequest(): void {
    this.requests.add();
  }

  /** Takes one extra request from the budget when it has room; false means do not send it. */
  tryAcquire(): boolean {
    if (this.used.total() + 1 > this.allowed()) {
      this.denied.add();
      return false;
    }
    this.used.add();
    return true;
  }

  snapshot(): BudgetSnapshot {
    return { requests: this.requests.total(), used: this.used.total(), denied: this.denied.total(), allowed: this.allowed() };
  }

  private allowed(): number {
    return Math.floor(this.o.ratio * this.requests.total() + this.o.minPerSec * this.requests.windowSec);
  }
}
