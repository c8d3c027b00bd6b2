/**
 * Broker addresses as the deployment writes them: "host:port", "[v6-literal]:port", and a
 * bootstrap given as one comma-separated string or a list.
 */
import { GeoError } from '../errors.ts';

export interface BrokerAddress {
  readonly host: string;
  readonly port: number;
}

export function parseBrokerAddress(addr: string): BrokerAddress {
  const text = addr.trim();
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(text) ?? /^([^:[\]]+):(\d+)$/.exec(text);
  const port = m ? Number(m[2]) : NaN;
  if (!m || !m[1] || !Number.isInteger(port) || port < 1 || port > 65_535) {
    throw new GeoError('INVALID_ARGUMENT', `"${addr}" is not a Kafka broker address (host:port or [ipv6]:port)`, { details: { address: addr } });
  }
  return { host: m[1], port };
}

/** The addresses of a bootstrap list, in order, duplicates dropped; at least one. */
export function parseBootstrap(bootstrap: string | readonly string[]): BrokerAddress[] {
  const parts = (typeof bootstrap === 'string' ? [bootstrap] : bootstrap).flatMap((s) => s.split(',')).map((s) => s.trim()).filter((s) => s !== '');
  if (parts.length === 0) throw new GeoError('INVALID_ARGUMENT', 'the Kafka bootstrap list is empty', { details: { bootstrap } });
  const seen = new Set<string>();
  const out: BrokerAddress[] = [];
  for (const part of parts) {
    const a = parseBrokerAddress(part);
    const key = formatBrokerAddress(a);
    if (!seen.has(key)) {
      seen.add(key);
      out.push(a);
    }
  }
  return out;
}

export function formatBrokerAddress(a: BrokerAddress): string {
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}
