/**
 * Runs a scenario's faults on their timeline, from the start of the load. Occurrences of one
 * fault run one after another (a repeated kill never hits a server still starting from the
 * previous one); different faults run independently. Every occurrence is recorded with when it
 * began, when its heal was issued and when the heal completed, for the report.
 */
import type { Logger } from '../core/logger.ts';
import { sleep } from '../core/retry.ts';
import type { Fault } from './scenario.ts';
import type { ChaosSystem } from './system.ts';

export interface FaultEvent {
  /** Index of the fault in the scenario. */
  fault: number;
  action: Fault['action'];
  target: string;
  /** The servers the target stood for when it happened. */
  servers: string[];
  /** Milliseconds from the start of the load. */
  startedAt: number;
  /** When the heal (restart, SIGCONT, link clear, undrain) was issued. */
  healIssuedAt: number | undefined;
  /** When the heal completed (a restarted server answers its readiness probe). */
  healedAt: number | undefined;
  /** The fault could not be injected. */
  error?: string;
  /** The heal was issued but did not complete (say, a restarted broker slower than the readiness timeout); the final heal retries it. */
  healError?: string;
}

export class FaultSchedule {
  readonly events: FaultEvent[] = [];
  private stopped = false;

  constructor(
    private readonly system: ChaosSystem,
    private readonly faults: readonly Fault[],
    private readonly log: Logger,
  ) {}

  /** Runs every fault; resolves when the last one is healed. `t0` is the start of the load (performance.now()). */
  async run(t0: number): Promise<void> {
    await Promise.all(this.faults.map((f, i) => this.runFault(f, i, t0)));
  }

  /** No further occurrences start (those under way finish their heal). */
  stop(): void {
    this.stopped = true;
  }

  private async runFault(f: Fault, index: number, t0: number): Promise<void> {
    const times = f.times ?? 1;
    for (let k = 0; k < times && !this.stopped; k++) {
      const due = t0 + f.at + k * (f.every ?? 0);
      await sleep(Math.max(0, due - performance.now()));
      if (this.stopped) return;
      const event: FaultEvent = { fault: index, action: f.action, target: f.target, servers: [], startedAt: performance.now() - t0, healIssuedAt: undefined, healedAt: undefined };
      this.events.push(event);
      try {
        await this.occurrence(f, event, t0);
      } catch (err) {
        if (event.healIssuedAt === undefined) event.error = (err as Error).message;
        else event.healError = (err as Error).message;
        this.log.error({ err, fault: index, target: f.target }, 'fault action failed; the heal at the end of the run repairs what it left');
      }
    }
  }

  private async occurrence(f: Fault, e: FaultEvent, t0: number): Promise<void> {
    const s = this.system;
    // Planned maintenance: no search goes to the region while its servers restart.
    const drained = f.drain ? f.target.split('/')[0] : undefined;
    if (drained) await s.drain(drained, `chaos: ${f.action} ${f.target}`);
    const healIssued = (): void => {
      e.healIssuedAt = performance.now() - t0;
    };
    switch (f.action) {
      case 'kill':
      case 'stop': {
        e.servers = await s.resolve(f.target);
        await s.signal(f.action, e.servers);
        await sleep(f.restartAfter ?? 0);
        healIssued();
        await s.signal('start', e.servers);
        break;
      }
      case 'pause': {
        e.servers = await s.resolve(f.target);
        await s.signal('pause', e.servers);
        await sleep(f.for ?? 0);
        healIssued();
        await s.signal('resume', e.servers);
        break;
      }
      case 'rolling-restart': {
        e.servers = await s.resolve(f.target);
        for (const server of e.servers) {
          await s.signal('stop', [server]);
          await sleep(f.restartAfter ?? 0);
          await s.signal('start', [server]);
          // As an operator would: the next broker goes down only once every replica is back in sync.
          if (/\/kafka-\d+$/.test(server)) await s.waitInSync(server.split('/')[0] ?? '', 120_000);
        }
        healIssued();
        break;
      }
      case 'link': {
        e.servers = [`link/${f.target}`];
        // The proxy heals itself a minute after the planned heal, should this process die or
        // the clear below be lost: a fault never outlives its scenario by more than that.
        await s.link(f.target, { ...(f.link ?? {}), ...(f.for !== undefined ? { expiresInMs: f.for + 60_000 } : {}) });
        await sleep(f.for ?? 0);
        healIssued();
        await s.link(f.target, 'clear');
        break;
      }
      case 'drain': {
        e.servers = [f.target];
        await s.drain(f.target, 'chaos scenario');
        await sleep(f.for ?? 0);
        healIssued();
        await s.undrain(f.target);
        break;
      }
    }
    if (drained) await s.undrain(drained);
    e.healedAt = performance.now() - t0;
  }
}
