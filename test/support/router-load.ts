/**
 * Steady search load through a router at a fixed rate (open loop: a request goes out every
 * 1000/rate ms whether or not earlier ones have answered), recording every answer: when it was
 * sent and answered, its status, serving region and route reason. Bounded in count and time.
 */
import { Agent, request } from 'node:http';

export interface LoadSample {
  sentAt: number;
  doneAt: number;
  status: number;
  region: string | undefined;
  reason: string | undefined;
  /** Why there is no answer (status -1): the socket error's code, or "timeout". */
  error?: string;
}

export function routerLoad(o: { url: string; ratePerSec: number; headers?: Record<string, string>; maxSeconds?: number }): { stop(): Promise<LoadSample[]>; samples: LoadSample[] } {
  const target = new URL(o.url);
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const samples: LoadSample[] = [];
  const pending = new Set<Promise<void>>();
  const intervalMs = 1000 / o.ratePerSec;
  const started = Date.now();
  const limitMs = (o.maxSeconds ?? 300) * 1000;
  let sent = 0;
  let i = 0;
  const one = (): Promise<void> =>
    new Promise<void>((resolve) => {
      const sentAt = Date.now();
      let settled = false;
      const done = (status: number, headers: Record<string, string | string[] | undefined> = {}, error?: string): void => {
        if (settled) return;
        settled = true;
        samples.push({ sentAt, doneAt: Date.now(), status, region: headers['x-served-by-region'] as string | undefined, reason: headers['x-route-reason'] as string | undefined, ...(error ? { error } : {}) });
        resolve();
      };
      const req = request({ host: target.hostname, port: target.port, path: `/search?q=load-${i++ % 50}&size=3`, agent, headers: o.headers ?? {} }, (res) => {
        res.resume();
        res.on('end', () => done(res.statusCode ?? 0, res.headers));
        res.on('error', (err: NodeJS.ErrnoException) => done(-1, {}, err.code ?? 'response error'));
      });
      req.setTimeout(20_000, () => {
        done(-1, {}, 'timeout');
        req.destroy();
      });
      req.on('error', (err: NodeJS.ErrnoException) => done(-1, {}, err.code ?? 'request error'));
      req.end();
    });
  const timer = setInterval(() => {
    // Catch up on ticks the event loop delayed, so the rate holds on a busy machine.
    const due = Math.floor((Date.now() - started) / intervalMs);
    if (Date.now() - started > limitMs) return;
    while (sent < due) {
      sent++;
      const p = one();
      pending.add(p);
      void p.then(() => pending.delete(p));
    }
  }, Math.max(1, Math.floor(intervalMs)));
  return {
    samples,
    async stop() {
      clearInterval(timer);
      await Promise.all([...pending]);
      agent.destroy();
      return samples;
    },
  };
}
