import { pino } from 'pino';
import type { Logger } from 'pino';

export type { Logger };

/** Builds a root logger. Components receive a child of it; nothing logs through a global. */
export function createLogger(options: { name?: string; level?: string; destination?: NodeJS.WritableStream } = {}): Logger {
  const level = options.level ?? process.env['GEOREPLICA_LOG_LEVEL'] ?? 'info';
  return pino({ name: options.name ?? 'georeplica', level }, options.destination ?? process.stderr);
}

/** A logger that drops everything, for pure-logic tests and quiet CLI paths. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
