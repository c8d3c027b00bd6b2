/** What the runtime needs to know to start, probe and name one server process. */
export type ServerKind = 'kafka' | 'opensearch' | 'service' | 'link';

export interface ServerHealth {
  readonly ok: boolean;
  readonly detail: string;
}

export interface ServerSpec {
  /** Stable name used by the CLI and tests, e.g. "us-east/kafka-0" or "eu-west/opensearch". */
  readonly name: string;
  readonly region: string;
  readonly kind: ServerKind;
  readonly command: string;
  readonly args: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  /** Nice value to start with (0 when absent): background pipelines yield the CPU to serving. */
  readonly niceness?: number;
  /** The server's own directory: config, data and its log file live here. */
  readonly dir: string;
  readonly logFile: string;
  /** Every port the server binds; checked free before it starts. */
  readonly ports: readonly number[];
  /** The address clients use, for `status` and the endpoint list. */
  readonly endpoint: string;
  /** Writes config and formats storage; must be idempotent (it runs before every start). */
  prepare(): Promise<void>;
  /** One readiness probe. `logSince` is the log text written since this start. */
  probeReady(logSince: string): Promise<boolean>;
  probeHealth(): Promise<ServerHealth>;
}

/** Every process the runtime starts carries this marker on its command line, so `down` can find strays. */
export function stateMarker(stateDir: string): string {
  return `georeplica-state=${stateDir}`;
}
