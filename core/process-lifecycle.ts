/**
 * How every georeplica process ends: SIGTERM or SIGINT runs its drain once, exits 0 when the
 * drain is done and 1 when it overruns its limit; a startup failure prints a plain message for
 * catalogue errors (a stack only for bugs) and exits 1.
 */
import { GeoError } from './errors.ts';
import type { Logger } from './logger.ts';

export function drainOnSignals(o: { log: Logger; drain: () => Promise<void>; limitMs?: number }): void {
  const limitMs = o.limitMs ?? 30_000;
  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    o.log.info({ signal }, 'draining');
    const force = setTimeout(() => {
      o.log.error(`drain took longer than ${limitMs / 1000} s; exiting`);
      process.exit(1);
    }, limitMs);
    force.unref();
    void o.drain().then(
      () => {
        o.log.info('stopped');
        process.exit(0);
      },
      (err: unknown) => {
        o.log.error({ err }, 'drain failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

export function exitOnStartupFailure(name: string): (err: unknown) => never {
  return (err: unknown) => {
    if (err instanceof GeoError) console.error(`${name}: ${err.message}`);
    else console.error(err);
    process.exit(1);
  };
}
