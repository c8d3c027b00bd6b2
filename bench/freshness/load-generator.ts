/**
 * The fixed-rate writer: `PUT /documents/<tag>-<seq>` to the ingest API over HTTP (keep-alive),
 * document seq due at `startAt + seq / rate`. Open loop: a request is sent when it is due whatever
 * the answers to earlier ones, so a slow ingest does not lower the offered rate; only the
 * in-flight cap can (how late sends were is reported), and what the cap still holds back one
 * second after the schedule's end is never sent (notSent), so a phase never outlasts its
 * schedule. For every document it keeps the wall
 * time just before the request and when the 202 arrived, and the version the 202 carried.
 * Runs in a process of its own (load-child.ts), so it shares no event loop with the observer.
 */
import { Agent, request } from 'node:http';
import { sleep } from '../../core/retry.ts';
import { wallNow } from '../support/kafka-bench.ts';
import { percentile, round } from '../support/stats.ts';
import { documentBody, documentId } from './documents.ts';

export interface LoadPlan {
  ingestUrl: string;
  tag: string;
  /** Documents per second. */
  rate: number;
  count: number;
  /** Wall time (ms since the epoch) document 0 is due. */
  startAt: number;
  bodySize: number;
  maxInFlight: number;
}

export interface LoadResult {
  count: number;
  /** Documents the in-flight cap held back until the schedule was over: never sent. */
  notSent: number;
  accepted: number;
  /** Answers other than 202, by status ("0" = no answer: connection error or timeout). */
  refused: Record<string, number>;
  /** Per seq: wall ms just before the request (null: not sent); the 202's arrival (null unless 202); its version. */
  sendAt: Array<number | null>;
  ackAt: Array<number | null>;
  versions: Array<string | null>;
  /** How late sends were against the schedule (the generator's own lag). */
  lateMs: { p50: number; p99: number; max: number };
  /** send → 202, ms. */
  ackMs: { p50: number; p99: number; max: number };
  maxInFlight: number;
  /** Documents per second actually offered (first to last send). */
  offeredPerSec: number;
}

export class LoadGenerator {
  private readonly agent: Agent;
  private readonly url: URL;
  private readonly sendAt: Float64Array;
  private readonly ackAt: Float64Array;
  private readonly late: Float64Array;
  private readonly versions: Array<string | null>;
  private readonly refused: Record<string, number> = {};
  private inFlight = 0;
  private peakInFlight = 0;
  private sent = 0;
  private answered = 0;
  private sendingDone = false;
  private loop: Promise<void> | undefined;
  private allAnswered: () => void = () => undefined;
  private readonly done = new Promise<void>((resolve) => (this.allAnswered = resolve));

  constructor(private readonly plan: LoadPlan) {
    this.agent = new Agent({ keepAlive: true, maxSockets: plan.maxInFlight });
    this.url = new URL(plan.ingestUrl);
    this.sendAt = new Float64Array(plan.count).fill(Number.NaN);
    this.ackAt = new Float64Array(plan.count).fill(Number.NaN);
    this.late = new Float64Array(plan.count).fill(Number.NaN);
    this.versions = new Array<string | null>(plan.count).fill(null);
  }

  start(): void {
    this.loop ??= this.run();
  }

  async finish(timeoutMs: number): Promise<LoadResult> {
    await this.loop;
    await Promise.race([this.done, sleep(timeoutMs)]);
    this.agent.destroy();
    const p = this.plan;
    const ackMs: number[] = [];
    for (let i = 0; i < p.count; i++) if (!Number.isNaN(this.ackAt[i])) ackMs.push((this.ackAt[i] as number) - (this.sendAt[i] as number));
    const lateSorted = Float64Array.from(this.late.filter((x) => !Number.isNaN(x))).sort();
    const ackSorted = Float64Array.from(ackMs).sort();
    const unanswered = this.sent - this.answered;
    if (unanswered > 0) this.refused['0'] = (this.refused['0'] ?? 0) + unanswered;
    const first = this.sendAt[0] as number;
    const last = this.sendAt[Math.max(0, this.sent - 1)] as number;
    const nullable = (a: Float64Array): Array<number | null> => Array.from(a, (x) => (Number.isNaN(x) ? null : round(x, 3)));
    return {
      count: p.count,
      notSent: p.count - this.sent,
      accepted: ackMs.length,
      refused: this.refused,
      sendAt: nullable(this.sendAt),
      ackAt: nullable(this.ackAt),
      versions: this.versions,
      lateMs: { p50: round(percentile(lateSorted, 50), 1), p99: round(percentile(lateSorted, 99), 1), max: round(lateSorted[lateSorted.length - 1] ?? Number.NaN, 1) },
      ackMs: { p50: round(percentile(ackSorted, 50), 1), p99: round(percentile(ackSorted, 99), 1), max: round(ackSorted[ackSorted.length - 1] ?? Number.NaN, 1) },
      maxInFlight: this.peakInFlight,
      offeredPerSec: this.sent > 1 ? round((this.sent - 1) / ((last - first) / 1000), 1) : Number.NaN,
    };
  }

  private async run(): Promise<void> {
    const p = this.plan;
    const interval = 1000 / p.rate;
    const endAt = p.startAt + p.count * interval + 1_000;
    while (this.sent < p.count) {
      const now = wallNow();
      if (now > endAt) break;
      const due = Math.min(p.count, Math.floor((now - p.startAt) / interval) + 1);
      while (this.sent < due && this.inFlight < p.maxInFlight) {
        const seq = this.sent++;
        this.send(seq, p.startAt + seq * interval);
      }
      if (this.sent >= p.count) break;
      const next = p.startAt + this.sent * interval;
      await sleep(Math.max(0, Math.min(5, next - wallNow())));
    }
    this.sendingDone = true;
    if (this.answered >= this.sent) this.allAnswered();
  }

  private send(seq: number, dueAt: number): void {
    const p = this.plan;
    const id = documentId(p.tag, seq);
    const body = JSON.stringify(documentBody(p.tag, seq, p.bodySize));
    this.inFlight++;
    if (this.inFlight > this.peakInFlight) this.peakInFlight = this.inFlight;
    const at = wallNow();
    this.sendAt[seq] = at;
    this.late[seq] = at - dueAt;
    let settled = false;
    const finish = (status: number, text: string): void => {
      if (settled) return;
      settled = true;
      this.inFlight--;
      this.answered++;
      if (status === 202) {
        this.ackAt[seq] = wallNow();
        this.versions[seq] = (JSON.parse(text) as { version: string }).version;
      } else this.refused[String(status)] = (this.refused[String(status)] ?? 0) + 1;
      if (this.sendingDone && this.answered >= this.sent) this.allAnswered();
    };
    const req = request(
      { agent: this.agent, host: this.url.hostname, port: this.url.port, method: 'PUT', path: `/documents/${id}`, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }, timeout: 30_000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => finish(res.statusCode ?? 0, Buffer.concat(chunks).toString('utf8')));
        res.on('error', () => finish(0, ''));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => finish(0, ''));
    req.end(body);
  }
}
