/**
 * An in-process TCP server that speaks just enough of the Kafka framing to test the client
 * without real brokers: it parses each request (header v1) and answers with what the handler
 * returns, or never answers, or hangs up.
 */
import { createServer } from 'node:net';
import type { AddressInfo, Server, Socket } from 'node:net';
import { Reader, Writer } from '../../../core/kafka-protocol/codec.ts';

export interface ReceivedRequest {
  apiKey: number;
  apiVersion: number;
  correlationId: number;
  clientId: string | null;
  body: Buffer;
}

/** A response body, `'hang'` (never answer), `'close'` (hang up), or raw bytes to send as they are. */
export type FakeAnswer = Buffer | 'hang' | 'close' | { raw: Buffer };
export type FakeHandler = (req: ReceivedRequest, socket: Socket) => FakeAnswer | Promise<FakeAnswer>;

export interface FakeBroker {
  readonly address: string;
  readonly requests: ReceivedRequest[];
  close(): Promise<void>;
}

export function responseFrame(correlationId: number, body: Buffer): Buffer {
  return new Writer().int32(4 + body.length).int32(correlationId).raw(body).toBuffer();
}

export async function startFakeBroker(handler: FakeHandler): Promise<FakeBroker> {
  const requests: ReceivedRequest[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let pending = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 4 && pending.length >= 4 + pending.readInt32BE(0)) {
        const size = pending.readInt32BE(0);
        const r = new Reader(pending.subarray(4, 4 + size));
        pending = pending.subarray(4 + size);
        const req: ReceivedRequest = { apiKey: r.int16(), apiVersion: r.int16(), correlationId: r.int32(), clientId: r.nullableString(), body: Buffer.from(r.raw(r.remaining)) };
        requests.push(req);
        void Promise.resolve(handler(req, socket)).then((answer) => {
          if (answer === 'hang') return;
          if (answer === 'close') socket.destroy();
          else if (Buffer.isBuffer(answer)) socket.write(responseFrame(req.correlationId, answer));
          else socket.write(answer.raw);
        });
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    address: `127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** An ApiVersions v1+ response body listing `ranges` as [apiKey, min, max]. */
export function apiVersionsBody(ranges: Array<[number, number, number]>, errorCode = 0): Buffer {
  return new Writer()
    .int16(errorCode)
    .array(ranges, (w, [k, min, max]) => w.int16(k).int16(min).int16(max))
    .int32(0)
    .toBuffer();
}
