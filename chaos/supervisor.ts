/**
 * What a process supervisor (systemd's Restart=always, a Kubernetes restart policy) does in
 * production: a server that exits without a fault having stopped it is started again. Every such
 * exit is recorded with the last lines of its log, because a crash under a fault is a finding
 * even when the restart hides it from the invariants.
 */
import type { Logger } from '../core/logger.ts';
import { tailLog } from '../topology/runtime/process-control.ts';
import type { ChaosSystem } from './system.ts';

export interface UnexpectedExit {
  server: string;
  /** Milliseconds from the start of the load when it was found dead. */
  atMs: number;
  logTail: string;
}

const CHECK_MS = 1_000;

export class Supervisor {
  readonly exits: UnexpectedExit[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly restarting = new Set<string>();
  private checking = false;

  constructor(
    private readonly system: ChaosSystem,
    private readonly t0: number,
    private readonly log: Logger,
  ) {}

  /** Idempotent: a second start must not leave a first timer running (it would restart servers after the fleet is down). */
  start(): void {
    this.timer ??= setInterval(() => void this.check(), CHECK_MS);
  }

  /** Stops watching and waits for restarts under way. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    while (this.restarting.size > 0 || this.checking) await new Promise((r) => setTimeout(r, 100));
  }

  private async check(): Promise<void> {
    if (this.checking) return;
    this.checking = true;
    try {
      const { fleet, runtime } = this.system;
      const dead: string[] = fleet.names.filter((n) => fleet.state(n) === 'dead');
      for (const name of runtime.serverNames) if ((await runtime.pidOf(name)) === undefined) dead.push(name);
      for (const name of dead) {
        if (this.system.isDownOnPurpose(name) || this.restarting.has(name)) continue;
        const file = this.system.logFileOf(name);
        const exit = { server: name, atMs: Math.round(performance.now() - this.t0), logTail: file ? tailLog(file, 12) : '' };
        this.exits.push(exit);
        this.log.error({ server: name, atMs: exit.atMs }, 'server exited without a fault stopping it; restarting it');
        this.restarting.add(name);
        void this.system
          .signal('start', [name])
          .catch((err: unknown) => this.log.error({ err, server: name }, 'restart failed'))
          .finally(() => this.restarting.delete(name));
      }
    } finally {
      this.checking = false;
    }
  }
}
