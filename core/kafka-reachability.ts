/**
 * A cheap check that a region's Kafka answers: one ApiVersions request to each bootstrap broker
 * (in parallel, over a plain TCP connection), the first answer wins. It costs a connection and a
 * few hundred bytes, never touches the producer, and fails fast (a refused connection fails at
 * once, a silent host after `timeoutMs`). Used by GET /health, and before connecting the
 * producer, whose own connect waits 30 s for metadata when no broker answers.
 */
import { fetchApiVersions } from './kafka-protocol/api-versions.ts';
import { BrokerConnection } from './kafka-protocol/connection.ts';

export type Reachability = { readonly reachable: true; readonly broker: string; readonly ms: number } | { readonly reachable: false; readonly error: string; readonly ms: number };

export async function probeKafka(bootstrap: readonly string[], o: { timeoutMs: number; clientId?: string }): Promise<Reachability> {
  const t0 = Date.now();
  const one = async (broker: string): Promise<string> => {
    const conn = await BrokerConnection.connect(broker, { connectTimeoutMs: o.timeoutMs, requestTimeoutMs: o.timeoutMs, clientId: o.clientId ?? 'georeplica-ingest' });
    try {
      await fetchApiVersions(conn, o.timeoutMs);
      return broker;
    } finally {
      await conn.close().catch(() => undefined);
    }
  };
  try {
    const broker = await Promise.any(bootstrap.map(one));
    return { reachable: true, broker, ms: Date.now() - t0 };
  } catch (err) {
    const errors = err instanceof AggregateError ? (err.errors as unknown[]) : [err];
    const error = errors.map((e) => (e instanceof Error ? e.message : String(e))).join('; ');
    return { reachable: false, error: error === '' ? 'no bootstrap broker configured' : error, ms: Date.now() - t0 };
  }
}

/** `probeKafka` with its answer kept for `ttlMs`, and concurrent callers sharing one probe, so health checks stay cheap under load. */
export class CachedReachability {
  private last: { at: number; result: Reachability } | undefined;
  private inFlight: Promise<Reachability> | undefined;

  constructor(private readonly o: { bootstrap: readonly string[]; timeoutMs: number; ttlMs: number; onResult?: (r: Reachability) => void }) {}

  check(now: number = Date.now()): Promise<Reachability> {
    if (this.last && now - this.last.at < this.o.ttlMs) return Promise.resolve(this.last.result);
    this.inFlight ??= probeKafka(this.o.bootstrap, { timeoutMs: this.o.timeoutMs })
      .then((result) => {
        this.last = { at: Date.now(), result };
        this.o.onResult?.(result);
        return result;
      })
      .finally(() => {
        this.inFlight = undefined;
      });
    return this.inFlight;
  }
}
