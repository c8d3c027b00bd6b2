import { afterEach, describe, expect, it } from 'vitest';
import { GeoError } from '../../../core/errors.ts';
import { BrokerConnection } from '../../../core/kafka-protocol/connection.ts';
import { Writer } from '../../../core/kafka-protocol/codec.ts';
import type { FakeBroker, FakeHandler } from './fake-broker.ts';
import { responseFrame, startFakeBroker } from './fake-broker.ts';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function broker(handler: FakeHandler): Promise<FakeBroker> {
  const b = await startFakeBroker(handler);
  cleanups.push(() => b.close());
  return b;
}

async function connect(address: string, o: Parameters<typeof BrokerConnection.connect>[1] = {}): Promise<BrokerConnection> {
  const c = await BrokerConnection.connect(address, o);
  cleanups.push(() => c.close());
  return c;
}

async function rejection(p: Promise<unknown>): Promise<GeoError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (err instanceof GeoError) return err;
  throw new Error(`expected a GeoError, got ${String(err)}`);
}

describe('kafka protocol broker connection', () => {
  it('frames requests with header v1 and hands back the response body', async () => {
    const b = await broker((req) => Buffer.concat([Buffer.from('echo:'), req.body]));
    const c = await connect(b.address, { clientId: 'geo-test' });
    const r = await c.request(32, 3, Buffer.from('hello'));
    expect(r.raw(r.remaining).toString()).toBe('echo:hello');
    expect(b.requests).toEqual([{ apiKey: 32, apiVersion: 3, correlationId: 1, clientId: 'geo-test', body: Buffer.from('hello') }]);
  });

  it('matches responses to requests by correlation id, in whatever order they come', async () => {
    const b = await broker(async (req) => {
      // The first request is answered last.
      if (req.correlationId === 1) await new Promise((r) => setTimeout(r, 50));
      return new Writer().int32(req.correlationId * 10).toBuffer();
    });
    const c = await connect(b.address);
    const answers = await Promise.all([1, 2, 3].map(async () => (await c.request(18, 0, Buffer.alloc(0))).int32()));
    expect(answers).toEqual([10, 20, 30]);
    expect(b.requests.map((r) => r.correlationId)).toEqual([1, 2, 3]);
  });

  it('reassembles responses split across many TCP segments, and several in one', async () => {
    const b = await broker((req, socket) => {
      const frame = responseFrame(req.correlationId, Buffer.from('x'.repeat(300)));
      if (req.correlationId === 1) {
        // Byte by byte, size prefix included.
        for (let i = 0; i < frame.length; i++) setTimeout(() => socket.write(frame.subarray(i, i + 1)), 0);
        return 'hang';
      }
      return { raw: frame };
    });
    const c = await connect(b.address);
    const first = await c.request(1, 0, Buffer.alloc(0));
    expect(first.remaining).toBe(300);
    const more = await Promise.all([c.request(1, 0, Buffer.alloc(0)), c.request(1, 0, Buffer.alloc(0))]);
    expect(more.map((r) => r.remaining)).toEqual([300, 300]);
  });

  it('times a request out as KAFKA_UNAVAILABLE (retriable) and closes the connection', async () => {
    const b = await broker(() => 'hang');
    const c = await connect(b.address);
    const t0 = Date.now();
    const err = await rejection(c.request(32, 3, Buffer.alloc(0), { timeoutMs: 150, label: 'DescribeConfigs v3' }));
    expect(Date.now() - t0).toBeLessThan(2_000);
    expect(err).toMatchObject({ code: 'KAFKA_UNAVAILABLE', retriable: true });
    expect(err.message).toMatch(/DescribeConfigs v3 .* no response within 150 ms/);
    expect(err.details).toMatchObject({ broker: b.address, reason: 'request-timeout' });
    expect(c.closed).toBe(true);
    expect((await rejection(c.request(18, 0, Buffer.alloc(0)))).code).toBe('KAFKA_UNAVAILABLE');
  });

  it('fails waiting requests with KAFKA_UNAVAILABLE when the broker hangs up', async () => {
    const b = await broker(() => 'close');
    const c = await connect(b.address);
    const err = await rejection(c.request(18, 2, Buffer.alloc(0)));
    expect(err).toMatchObject({ code: 'KAFKA_UNAVAILABLE', retriable: true });
    expect(c.closed).toBe(true);
  });

  it('reports a refused connection as KAFKA_UNAVAILABLE with the errno', async () => {
    const err = await rejection(BrokerConnection.connect('127.0.0.1:1'));
    expect(err).toMatchObject({ code: 'KAFKA_UNAVAILABLE', retriable: true, details: { broker: '127.0.0.1:1', errno: 'ECONNREFUSED' } });
  });

  it('times out a connect that gets no answer', async () => {
    // 192.0.2.0/24 is TEST-NET-1: nothing answers there (either a timeout or an unreachable error).
    const t0 = Date.now();
    const err = await rejection(BrokerConnection.connect('192.0.2.1:9092', { connectTimeoutMs: 200 }));
    expect(Date.now() - t0).toBeLessThan(2_000);
    expect(err).toMatchObject({ code: 'KAFKA_UNAVAILABLE', retriable: true });
  });

  it('treats a frame with an impossible size or an unknown correlation id as a protocol error', async () => {
    const bad = await broker(() => ({ raw: new Writer().int32(-5).toBuffer() }));
    const c1 = await connect(bad.address);
    const e1 = await rejection(c1.request(18, 0, Buffer.alloc(0)));
    expect(e1).toMatchObject({ code: 'KAFKA_OPERATION_FAILED', retriable: false, details: { reason: 'protocol' } });

    const stray = await broker((req) => ({ raw: responseFrame(req.correlationId + 100, Buffer.alloc(0)) }));
    const c2 = await connect(stray.address);
    const e2 = await rejection(c2.request(18, 0, Buffer.alloc(0)));
    expect(e2).toMatchObject({ code: 'KAFKA_OPERATION_FAILED', details: { reason: 'protocol' } });
    expect(e2.message).toMatch(/correlation id 101/);
  });

  it('closes cleanly: waiting requests fail, close resolves, and closing twice is harmless', async () => {
    const b = await broker(() => 'hang');
    const c = await BrokerConnection.connect(b.address);
    const waiting = rejection(c.request(18, 0, Buffer.alloc(0)));
    await c.close();
    expect((await waiting).code).toBe('KAFKA_UNAVAILABLE');
    expect(c.closed).toBe(true);
    await c.close();
  });

  it('rejects a malformed address as INVALID_ARGUMENT', async () => {
    await expect(BrokerConnection.connect('no-port')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});
