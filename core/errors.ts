/**
 * The one catalogue of georeplica's error codes.
 *
 * Every error the project raises is a GeoError with a stable `code` from this table. Callers
 * branch on `code` or `retriable`, never on the message text, and the retry policy
 * (core/retry.ts) reads `retriable` alone.
 */

export const ERROR_CATALOGUE = {
  // Configuration
  CONFIG_INVALID: { retriable: false, summary: 'the deployment configuration is invalid' },
  CONFIG_NOT_FOUND: { retriable: false, summary: 'the configuration file does not exist' },
  CONFIG_UNREADABLE: { retriable: false, summary: 'the configuration file cannot be parsed' },
  // Topology
  UNKNOWN_REGION: { retriable: false, summary: 'the region is not part of the topology' },
  // Local runtime
  RUNTIME_NOT_FETCHED: { retriable: false, summary: 'the JVM servers have not been fetched' },
  RUNTIME_NO_JDK: { retriable: false, summary: 'no suitable JDK was found' },
  RUNTIME_PORT_IN_USE: { retriable: false, summary: 'a port the runtime needs is taken' },
  RUNTIME_READINESS_TIMEOUT: { retriable: true, summary: 'a server did not become ready in time' },
  RUNTIME_PROCESS_EXITED: { retriable: false, summary: 'a server process exited unexpectedly' },
  RUNTIME_UNKNOWN_SERVER: { retriable: false, summary: 'no server of that name is managed here' },
  RUNTIME_NOT_RUNNING: { retriable: false, summary: 'the server is not running' },
  RUNTIME_COMMAND_FAILED: { retriable: false, summary: 'a runtime helper command failed' },
  // Kafka / OpenSearch clients
  KAFKA_UNAVAILABLE: { retriable: true, summary: 'the Kafka cluster cannot be reached' },
  KAFKA_OPERATION_FAILED: { retriable: false, summary: 'a Kafka operation failed' },
  SEARCH_UNAVAILABLE: { retriable: true, summary: 'the search cluster cannot be reached' },
  SEARCH_OVERLOADED: { retriable: true, summary: 'the search endpoint has as many searches in flight as it allows; try another region or later' },
  // Document events and versions
  EVENT_INVALID: { retriable: false, summary: 'a document event does not match its schema' },
  EVENT_SCHEMA_UNSUPPORTED: { retriable: false, summary: 'a document event was written by a newer version of georeplica' },
  CLOCK_SKEW: { retriable: false, summary: 'a clock is too far off to issue or accept a version' },
  // HTTP edge
  UNAUTHENTICATED: { retriable: false, summary: 'the request carries no valid credentials' },
  FORBIDDEN: { retriable: false, summary: 'the credentials do not allow this' },
  NOT_FOUND: { retriable: false, summary: 'no such resource' },
  // Generic
  TIMEOUT: { retriable: true, summary: 'the operation timed out' },
  INVALID_ARGUMENT: { retriable: false, summary: 'an argument is invalid' },
  INTERNAL: { retriable: false, summary: 'an internal invariant was broken' },
  // Router
  DRAIN_STORE_UNAVAILABLE: { retriable: true, summary: 'the shared drain state (NATS JetStream) cannot be reached' },
} as const satisfies Record<string, { retriable: boolean; summary: string }>;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

export interface GeoErrorOptions {
  cause?: unknown;
  /** Structured facts for logs and API bodies: the field, the value, the fix. */
  details?: Readonly<Record<string, unknown>>;
  /** Overrides the catalogue's default when one instance of a code is known to be final (or transient). */
  retriable?: boolean;
}

export class GeoError extends Error {
  readonly code: ErrorCode;
  readonly retriable: boolean;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: ErrorCode, message: string, options: GeoErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'GeoError';
    this.code = code;
    this.retriable = options.retriable ?? ERROR_CATALOGUE[code].retriable;
    this.details = Object.freeze({ ...(options.details ?? {}) });
  }

  toJSON(): Record<string, unknown> {
    return { code: this.code, message: this.message, retriable: this.retriable, details: this.details };
  }
}

export function isGeoError(err: unknown, code?: ErrorCode): err is GeoError {
  return err instanceof GeoError && (code === undefined || err.code === code);
}

/** Retriable only when the error says so; anything unknown is final, so surprises surface. */
export function isRetriable(err: unknown): boolean {
  return err instanceof GeoError && err.retriable;
}
