import { connect } from 'node:net';

/** True when something accepts TCP connections on host:port within the timeout. */
export function tcpOpen(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean): void => {
      socket.removeAllListeners();
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** GET a JSON document with a hard timeout; undefined on any failure (and on a non-2xx status unless `anyStatus`). */
export async function getJson(url: string, timeoutMs = 1_000, o: { anyStatus?: boolean } = {}): Promise<unknown> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    if (!res.ok && o.anyStatus !== true) return undefined;
    return (await res.json());
  } catch {
    return undefined;
  }
}
