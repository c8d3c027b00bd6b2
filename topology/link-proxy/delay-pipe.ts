/**
 * One direction of a proxied connection: bytes read from `src` are written to `dst` in the order
 * they arrived, each chunk no sooner than `latency` after it was read and no faster than the
 * direction's token bucket allows. While the link is blackholed nothing is written and `src` is
 * not read either, so the sender's socket buffers fill up as they would behind a dead route, and
 * whatever was queued is delivered, intact and in order, once the link heals (as TCP
 * retransmission would after a partition that the connection outlived).
 */
import type { Socket } from 'node:net';
import type { TokenBucket } from './token-bucket.ts';

/** What the pipe asks the link for each time it moves bytes, so fault changes apply at once. */
export interface PipeShaping {
  latencyMs(): number;
  /** The direction's bucket, or undefined when uncapped. */
  bucket(): TokenBucket | undefined;
  /** True while nothing may pass. */
  held(): boolean;
}

interface Queued {
  chunk: Buffer;
  due: number;
  /** When the bucket lets it go; set once its tokens are reserved. */
  sendAt?: number;
}

/** Reading stops above this many queued bytes and resumes below the low mark: bounded memory. */
const HIGH_WATER = 4 * 1024 * 1024;
const LOW_WATER = 1024 * 1024;

export class DelayPipe {
  private readonly queue: Queued[] = [];
  private queuedBytes = 0;
  private timer: NodeJS.Timeout | undefined;
  private waitingForDrain = false;
  private srcEnded = false;
  private closed = false;

  constructor(
    private readonly src: Socket,
    private readonly dst: Socket,
    private readonly shaping: PipeShaping,
    private readonly onForwarded: (bytes: number) => void,
  ) {
    src.on('data', (chunk: Buffer) => this.take(chunk));
    src.once('end', () => {
      this.srcEnded = true;
      this.pump();
    });
  }

  /** Re-evaluates after a fault changed (a blackhole healed, a latency or cap changed). */
  poke(): void {
    this.pump();
  }

  /** Stops timers; the sockets belong to the connection. */
  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.queue.length = 0;
  }

  private take(chunk: Buffer): void {
    this.queue.push({ chunk, due: performance.now() + this.shaping.latencyMs() });
    this.queuedBytes += chunk.length;
    if (this.queuedBytes >= HIGH_WATER) this.src.pause();
    this.pump();
  }

  private pump(): void {
    if (this.closed) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.shaping.held()) {
      this.src.pause();
      return;
    }
    if (this.waitingForDrain) return;
    while (this.queue.length > 0) {
      const head = this.queue[0] as Queued;
      const now = performance.now();
      if (head.due > now) return this.wake(head.due - now);
      if (head.sendAt === undefined) head.sendAt = now + (this.shaping.bucket()?.reserve(head.chunk.length) ?? 0);
      if (head.sendAt > now) return this.wake(head.sendAt - now);
      this.queue.shift();
      this.queuedBytes -= head.chunk.length;
      this.onForwarded(head.chunk.length);
      if (!this.dst.write(head.chunk)) {
        this.waitingForDrain = true;
        this.dst.once('drain', () => {
          this.waitingForDrain = false;
          this.pump();
        });
        this.resumeReading();
        return;
      }
    }
    if (this.srcEnded) {
      this.dst.end();
      return;
    }
    this.resumeReading();
  }

  private resumeReading(): void {
    if (!this.srcEnded && this.queuedBytes < LOW_WATER && this.src.isPaused()) this.src.resume();
  }

  private wake(ms: number): void {
    this.resumeReading();
    // Timers fire at 1 ms granularity at best; rounding up never delivers early.
    this.timer = setTimeout(() => this.pump(), Math.ceil(ms));
  }
}
