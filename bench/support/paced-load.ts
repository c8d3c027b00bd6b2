/**
 * An open-loop HTTP load generator with evenly spaced arrivals: request i is due at
 * start + i / rate, whatever happened to the ones before it. autocannon's fixed rate
 * (`overallRate`) instead lets every connection send its quota for the second as fast as it can
 * at the top of each second, so at 500/s over 32 connections it measures the queueing of
 * 32-request bursts (its direct p50 is 30× its closed-loop p50 on this machine), not the server.
 *
 * Latency is measured from the due time (coordinated omission corrected: a generator that fell
 * behind still charges the wait to the server) and, separately, from the actual send.
 */
import { Agent, request } from 'node:http';

export interface PacedAnswer {
  /** performance.now() when the request was due. */
  dueAt: number;
  sentAt: number;
  doneAt: number;
  /** HTTP status, or -1 for a connection error. */
  status: number;
  headers: Record<string, string | string[] | undefined>;
}

export interface PacedLoad {
  readonly answers: readonly PacedAnswer[];
  /** Requests sent so far. */
  sent(): number;
  /** Stops sending, waits up to `drainMs` for the answers still out, and closes the pool. */
  stop(drainMs?: number): Promise<void>;
}

export function pacedLoad(o: { url: string; ratePerSec: number; maxSockets?: number }): PacedLoad {
  const agent = new Agent({ keepAlive: true, maxSockets: o.maxSockets ?? 64 });
  const answers: PacedAnswer[] = [];
  const intervalMs = 1000 / o.ratePerSec;
  const start = performance.now();
  let sent = 0;
  let outstanding = 0;
  const fire = (dueAt: number): void => {
    const sentAt = performance.now();
    outstanding++;
    const done = (status: number, headers: PacedAnswer['headers']): void => {
      outstanding--;
      answers.push({ dueAt, sentAt, doneAt: performance.now(), status, headers });
    };
    const req = request(o.url, { agent }, (res) => {
      res.resume();
      res.on('end', () => done(res.statusCode ?? 0, res.headers));
    });
    req.on('error', () => done(-1, {}));
    req.end();
  };
  // A 1 ms tick sends whatever is due; at 2000/s that is two requests per tick, not a burst.
  const timer = setInterval(() => {
    const now = performance.now();
    while (start + sent * intervalMs <= now) fire(start + sent++ * intervalMs);
  }, 1);
  return {
    answers,
    sent: () => sent,
    async stop(drainMs = 5_000) {
      clearInterval(timer);
      const until = performance.now() + drainMs;
      while (outstanding > 0 && performance.now() < until) await new Promise((r) => setTimeout(r, 10));
      agent.destroy();
    },
  };
}
