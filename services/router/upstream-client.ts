/**
 * One try of a search against one region's search endpoint, over keep-alive HTTP/1.1.
 * Failures come back as catalogue errors the failover loop reads by `retriable` alone:
 * SEARCH_UNAVAILABLE for connect errors and 5xx, TIMEOUT for the per-try timeout. A 4xx is an
 * answer (the query is wrong wherever it goes), never a failure.
 */
import { Agent, request } from 'node:http';
import type { IncomingHttpHeaders } from 'node:http';
import { GeoError } from '../../core/errors.ts';
import { REQUEST_TIMEOUT_HEADER } from '../../core/http/request-timeout.ts';

export interface UpstreamRequest {
  method: 'GET' | 'POST';
  /** Path and query string, e.g. "/search?q=kettle". */
  path: string;
  body?: Buffer | undefined;
  contentType?: string | undefined;
  timeoutMs: number;
  /** Aborts the try (a hedge won): rejects with an error whose details.aborted is true. */
  signal?: AbortSignal | undefined;
}

export interface UpstreamResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  ms: number;
}

export class UpstreamClient {
  private readonly agent: Agent;

  constructor(
    readonly region: string,
    private readonly host: string,
    private readonly port: number,
    o: { maxSockets?: number } = {},
  ) {
    // Keep-alive saves a TCP handshake per search; the socket pool bounds what one region can take.
    this.agent = new Agent({ keepAlive: true, keepAliveMsecs: 10_000, maxSockets: o.maxSockets ?? 256, maxFreeSockets: 64, scheduling: 'lifo' });
  }

  send(r: UpstreamRequest): Promise<UpstreamResponse> {
    const t0 = performance.now();
    return new Promise<UpstreamResponse>((resolve, reject) => {
      let settled = false;
      const fail = (err: GeoError): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        r.signal?.removeEventListener('abort', onAbort);
        req.destroy();
        reject(err);
      };
      const headers: Record<string, string | number> = { accept: 'application/json', [REQUEST_TIMEOUT_HEADER]: Math.max(1, Math.floor(r.timeoutMs)) };
      if (r.body !== undefined) {
        headers['content-type'] = r.contentType ?? 'application/json';
        headers['content-length'] = r.body.length;
      }
      const req = request({ host: this.host, port: this.port, method: r.method, path: r.path, headers, agent: this.agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (cause) => fail(this.unavailable('the response broke off', cause)));
        res.on('end', () => {
          if (settled) return;
          const status = res.statusCode ?? 0;
          if (status >= 500) {
            fail(new GeoError('SEARCH_UNAVAILABLE', `Region ${this.region} answered ${status}.`, { details: { region: this.region, status } }));
            return;
          }
          settled = true;
          clearTimeout(timer);
          r.signal?.removeEventListener('abort', onAbort);
          resolve({ status, headers: res.headers, body: Buffer.concat(chunks), ms: performance.now() - t0 });
        });
      });
      const timer = setTimeout(() => fail(new GeoError('TIMEOUT', `Region ${this.region} did not answer within ${r.timeoutMs} ms.`, { details: { region: this.region, timeoutMs: r.timeoutMs } })), r.timeoutMs);
      const onAbort = (): void => fail(new GeoError('SEARCH_UNAVAILABLE', `The try against ${this.region} was cancelled.`, { retriable: false, details: { region: this.region, aborted: true } }));
      if (r.signal?.aborted) return onAbort();
      r.signal?.addEventListener('abort', onAbort, { once: true });
      req.on('error', (cause) => fail(this.unavailable('cannot be reached', cause)));
      req.end(r.body);
    });
  }

  close(): void {
    this.agent.destroy();
  }

  private unavailable(what: string, cause: unknown): GeoError {
    const code = (cause as { code?: unknown } | undefined)?.code;
    return new GeoError('SEARCH_UNAVAILABLE', `Region ${this.region} ${what}.`, { cause, details: { region: this.region, ...(typeof code === 'string' ? { cause: code } : {}) } });
  }
}

export function wasAborted(err: unknown): boolean {
  return err instanceof GeoError && err.details['aborted'] === true;
}
