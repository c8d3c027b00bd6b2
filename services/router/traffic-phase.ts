/**
 * Whether a region takes new requests, and how much of its share: one per region per router.
 *
 *   drained      the bucket says drained: no new requests (those in flight finish)
 *   catching-up  undrained, but not yet healthy and fresh: still no new requests (the catch-up gate)
 *   ramping      gate passed: its share grows from 10 % to 100 % over the slow-start window
 *   active       full share
 *
 * A region that comes back from being unhealthy or ejected ramps too (cause "recovery"), so a
 * cold region is not flooded the moment it answers a probe again.
 */
export type TrafficPhase = 'active' | 'drained' | 'catching-up' | 'ramping';
export type RampCause = 'undrain' | 'recovery';

/** Envoy's slow start begins at a floor too; 0 would starve the region of the samples that warm it up. */
export const MIN_RAMP_WEIGHT = 0.1;

export function rampWeight(startedAt: number, now: number, windowMs: number): number {
  if (windowMs <= 0) return 1;
  const progress = (now - startedAt) / windowMs;
  return progress >= 1 ? 1 : Math.max(MIN_RAMP_WEIGHT, MIN_RAMP_WEIGHT + (1 - MIN_RAMP_WEIGHT) * Math.max(0, progress));
}

export class TrafficState {
  private drained = false;
  private catchingUp = false;
  private ramp: { startedAt: number; cause: RampCause } | undefined;

  constructor(private readonly slowStartMs: number) {}

  /**
   * Applies the bucket's state. `initial` is the state read at startup: a region already active
   * then is simply active, without a gate (the router has no history to catch up with).
   */
  setDrained(drained: boolean, initial = false): void {
    if (drained) {
      this.drained = true;
      this.catchingUp = false;
      this.ramp = undefined;
    } else if (this.drained) {
      this.drained = false;
      this.catchingUp = !initial;
    }
  }

  /** The region became usable again after being unhealthy or ejected. */
  recovered(now: number): void {
    if (!this.drained && !this.catchingUp) this.ramp = { startedAt: now, cause: 'recovery' };
  }

  /** Advances catching-up → ramping → active; `gateOpen` is "healthy, not ejected and fresh". */
  tick(now: number, gateOpen: boolean): void {
    if (this.catchingUp && gateOpen) {
      this.catchingUp = false;
      this.ramp = { startedAt: now, cause: 'undrain' };
    }
    if (this.ramp !== undefined && rampWeight(this.ramp.startedAt, now, this.slowStartMs) >= 1) this.ramp = undefined;
  }

  phase(): TrafficPhase {
    if (this.drained) return 'drained';
    if (this.catchingUp) return 'catching-up';
    return this.ramp === undefined ? 'active' : 'ramping';
  }

  rampCause(): RampCause | undefined {
    return this.ramp?.cause;
  }

  weight(now: number): number {
    if (this.drained || this.catchingUp) return 0;
    return this.ramp === undefined ? 1 : rampWeight(this.ramp.startedAt, now, this.slowStartMs);
  }
}
