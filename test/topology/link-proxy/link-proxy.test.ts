/**
 * The link proxy over real sockets on 127.0.0.1: an upstream server stands in for a broker's
 * listener, and each fault is measured from the client's side.
 */
import { connect, createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../core/logger.ts';
import { noFaults } from '../../../topology/link-proxy/link-faults.ts';
import type { LinkFaults } from '../../../topology/link-proxy/link-faults.ts';
import { LinkProxy } from '../../../topology/link-proxy/link-proxy.ts';

interface Upstream {
  port: number;
  /** Bytes received per accepted connection, in order of acceptance. */
  received: Buffer[][];
  accepted(): number;
  sockets: Socket[];
}

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

/** An upstream that records what it receives and, with `echo`, sends it back. */
async function upstream(o: { echo?: boolean } = {}): Promise<Upstream> {
  const received: Buffer[][] = [];
  const sockets: Socket[] = [];
  const server: Server = createServer((s) => {
    const chunks: Buffer[] = [];
    received.push(chunks);
    sockets.push(s);
    s.on('error', () => undefined);
    s.on('data', (b: Buffer) => {
      chunks.push(b);
      if (o.echo) s.write(b);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  closers.push(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  });
  const addr = server.address();
  return { port: typeof addr === 'object' && addr ? addr.port : 0, received, accepted: () => received.length, sockets };
}

async function proxyTo(up: Upstream, baseline: Partial<LinkFaults> = {}): Promise<{ proxy: LinkProxy; port: number }> {
  const proxy = new LinkProxy({ name: 'a->b', routes: [{ listen: { host: '127.0.0.1', port: 0 }, upstream: { host: '127.0.0.1', port: up.port } }], baseline: { ...noFaults(), ...baseline }, log: silentLogger() });
  await proxy.start();
  closers.push(() => proxy.close());
  return { proxy, port: proxy.listeningPorts()[0] ?? 0 };
}

async function client(port: number): Promise<Socket> {
  const s = connect({ host: '127.0.0.1', port });
  s.setNoDelay(true);
  await new Promise<void>((resolve, reject) => {
    s.once('connect', resolve);
    s.once('error', reject);
  });
  closers.push(() => {
    s.destroy();
    return Promise.resolve();
  });
  return s;
}

/** Resolves with the first `n` bytes the socket receives. */
function readBytes(s: Socket, n: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let got = 0;
    const onData = (b: Buffer): void => {
      parts.push(b);
      got += b.length;
      if (got >= n) {
        s.off('data', onData);
        resolve(Buffer.concat(parts).subarray(0, n));
      }
    };
    s.on('data', onData);
    s.once('error', reject);
  });
}

/** The error (or 'closed') a socket ends with, within `ms`. */
function outcome(s: Socket, ms = 5_000): Promise<string> {
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve('still open'), ms);
    s.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(t);
      resolve(err.code ?? err.message);
    });
    s.once('close', () => {
      clearTimeout(t);
      resolve('closed');
    });
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const total = (chunks: Buffer[] | undefined): number => (chunks ?? []).reduce((n, b) => n + b.length, 0);

describe('LinkProxy', () => {
  it('forwards both ways unchanged and in order, many small writes and one large one', async () => {
    const up = await upstream({ echo: true });
    const { port } = await proxyTo(up);
    const c = await client(port);
    const payload = Buffer.concat([...Array.from({ length: 2_000 }, (_, i) => Buffer.from(`${i};`)), Buffer.alloc(3 * 1024 * 1024, 7)]);
    const echoed = readBytes(c, payload.length);
    let offset = 0;
    for (let i = 0; i < 2_000; i++) {
      const piece = Buffer.from(`${i};`);
      c.write(piece);
      offset += piece.length;
    }
    c.write(payload.subarray(offset));
    expect((await echoed).equals(payload)).toBe(true);
  });

  it('adds the one-way latency in each direction: a round trip takes at least twice it', async () => {
    const up = await upstream({ echo: true });
    const latencyMs = 150;
    const { port } = await proxyTo(up, { latencyMs });
    const c = await client(port);
    const rtts: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      const back = readBytes(c, 4);
      c.write('ping');
      await back;
      rtts.push(performance.now() - t0);
    }
    console.log(`[link-proxy] round trips with ${latencyMs} ms one way: ${rtts.map((r) => r.toFixed(0)).join(', ')} ms`);
    // Never early; late by at most an honest margin for a loaded two-core machine.
    for (const rtt of rtts) {
      expect(rtt).toBeGreaterThanOrEqual(2 * latencyMs);
      expect(rtt).toBeLessThan(2 * latencyMs + 1_000);
    }
  });

  it('keeps byte order when the latency changes mid-stream', async () => {
    const up = await upstream({ echo: true });
    const { proxy, port } = await proxyTo(up, { latencyMs: 300 });
    const c = await client(port);
    const chunks = Array.from({ length: 20 }, (_, i) => Buffer.from(`chunk-${String(i).padStart(2, '0')};`));
    const all = Buffer.concat(chunks);
    const echoed = readBytes(c, all.length);
    for (const [i, chunk] of chunks.entries()) {
      // Later chunks get a shorter latency: they must still arrive after the earlier ones.
      if (i === 10) proxy.change({ latencyMs: 0 });
      c.write(chunk);
      await sleep(5);
    }
    expect((await echoed).toString()).toBe(all.toString());
  });

  it('blackhole: accepts connections but forwards nothing either way and keeps them open; healing delivers what was held, in order', async () => {
    const up = await upstream({ echo: true });
    const { proxy, port } = await proxyTo(up);
    const old = await client(port);
    const first = readBytes(old, 5);
    old.write('hello');
    await first;
    proxy.change({ blackhole: true });

    old.write('during-blackhole');
    // A new connection is accepted (the handshake completes) but never reaches the upstream.
    const fresh = await client(port);
    fresh.write('new-conn');
    const oldEnd = outcome(old, 1_500);
    const freshEnd = outcome(fresh, 1_500);
    let echoedDuring = 0;
    old.on('data', (b: Buffer) => (echoedDuring += b.length));
    fresh.on('data', (b: Buffer) => (echoedDuring += b.length));
    expect(await oldEnd).toBe('still open');
    expect(await freshEnd).toBe('still open');
    expect(up.accepted()).toBe(1);
    expect(total(up.received[0])).toBe(5);
    expect(echoedDuring).toBe(0);

    old.removeAllListeners('data');
    fresh.removeAllListeners('data');
    const heldOld = readBytes(old, 'during-blackhole'.length);
    const heldFresh = readBytes(fresh, 'new-conn'.length);
    proxy.change({ blackhole: false });
    expect((await heldOld).toString()).toBe('during-blackhole');
    expect((await heldFresh).toString()).toBe('new-conn');
    expect(up.accepted()).toBe(2);
  });

  it('reset: open connections get ECONNRESET, and so do new ones while it is on; clearing lets connections through again', async () => {
    const up = await upstream({ echo: true });
    const { proxy, port } = await proxyTo(up);
    const c = await client(port);
    const hello = readBytes(c, 2);
    c.write('hi');
    await hello;
    const ended = outcome(c);
    proxy.change({ reset: true });
    expect(await ended).toBe('ECONNRESET');

    // A new connection: the handshake succeeds, then the proxy resets it.
    const fresh = connect({ host: '127.0.0.1', port });
    const freshEnd = outcome(fresh);
    fresh.on('connect', () => fresh.write('x'));
    expect(await freshEnd).toBe('ECONNRESET');

    proxy.clear();
    const again = await client(port);
    const back = readBytes(again, 5);
    again.write('again');
    expect((await back).toString()).toBe('again');
  });

  it('a refused upstream (broker down) resets the client connection, as a direct connection would be refused', async () => {
    const up = await upstream();
    const { port } = await proxyTo(up);
    // Close the upstream server: nothing listens there any more.
    await closers.shift()?.();
    const c = connect({ host: '127.0.0.1', port });
    c.on('connect', () => c.write('x'));
    expect(await outcome(c)).toBe('ECONNRESET');
  });

  it('bandwidth cap: throughput in each direction stays at the cap (plus one burst)', async () => {
    const up = await upstream();
    const rate = 256 * 1024;
    const { proxy, port } = await proxyTo(up, { bandwidthBytesPerSec: rate });
    const c = await client(port);
    const size = 512 * 1024;
    const t0 = performance.now();
    c.write(Buffer.alloc(size, 1));
    while (total(up.received[0]) < size) await sleep(20);
    const seconds = (performance.now() - t0) / 1000;
    const throughput = size / seconds;
    const burst = 16 * 1024;
    console.log(`[link-proxy] ${size} bytes through a ${rate} B/s cap in ${seconds.toFixed(2)} s: ${Math.round(throughput)} B/s`);
    // Bytes delivered by time t are at most rate × t + burst (+ one socket read in flight).
    expect(size).toBeLessThanOrEqual(rate * seconds + burst + 64 * 1024);

    // The other direction is capped as well.
    proxy.change({ bandwidthBytesPerSec: rate });
    const back = readBytes(c, size);
    const t1 = performance.now();
    up.sockets[0]?.write(Buffer.alloc(size, 2));
    await back;
    const backSeconds = (performance.now() - t1) / 1000;
    expect(size).toBeLessThanOrEqual(rate * backSeconds + burst + 64 * 1024);

    // Lifting the cap: the same transfer is much faster than the capped one.
    proxy.change({ bandwidthBytesPerSec: null });
    const t2 = performance.now();
    const free = readBytes(c, size);
    up.sockets[0]?.write(Buffer.alloc(size, 3));
    await free;
    expect((performance.now() - t2) / 1000).toBeLessThan(backSeconds);
  }, 30_000);

  it('passes a half-close on: the client ending its side ends the upstream side after the data', async () => {
    const up = await upstream();
    const { port } = await proxyTo(up, { latencyMs: 50 });
    const c = await client(port);
    const ended = new Promise<void>((resolve) => {
      const check = setInterval(() => {
        const s = up.sockets[0];
        if (s && s.readableEnded) {
          clearInterval(check);
          resolve();
        }
      }, 10);
    });
    c.end('last words');
    await ended;
    expect(Buffer.concat(up.received[0] ?? []).toString()).toBe('last words');
  });

  it('refuses to start on a taken port, naming the link and the port', async () => {
    const up = await upstream();
    const proxy = new LinkProxy({ name: 'a->b', routes: [{ listen: { host: '127.0.0.1', port: up.port }, upstream: { host: '127.0.0.1', port: up.port } }], baseline: noFaults(), log: silentLogger() });
    await expect(proxy.start()).rejects.toMatchObject({ code: 'RUNTIME_PORT_IN_USE', message: expect.stringContaining(`a->b cannot listen on 127.0.0.1:${up.port}`) as unknown });
  });
});
