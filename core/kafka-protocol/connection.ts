/**
 * One TCP connection to one Kafka broker, speaking the protocol's framing: every message is an
 * int32 size and that many bytes; a request starts with header v1 (api_key, api_version,
 * correlation_id, client_id), a response with header v0 (correlation_id). Only non-flexible
 * API versions are sent, so no tagged fields appear in either header.
 *
 * Failures to reach or keep talking to the broker (refused, reset, closed, timed out) are
 * KAFKA_UNAVAILABLE (retriable); a frame that breaks the protocol is KAFKA_OPERATION_FAILED.
 * After a request times out the connection is closed, since a late answer could no longer be
 * told apart from the next one.
 */
import { connect as netConnect } from 'node:net';
import type { Socket } from 'node:net';
import { GeoError } from '../errors.ts';
import { formatBrokerAddress, parseBrokerAddress } from './broker-address.ts';
import type { BrokerAddress } from './broker-address.ts';
import { Reader, Writer } from './codec.ts';

export const DEFAULT_CLIENT_ID = 'georeplica';
export const DEFAULT_TIMEOUT_MS = 10_000;
/** Larger frames are refused rather than buffered: no answer this package asks for comes near. */
export const MAX_FRAME_BYTES = 100 * 1024 * 1024;
const CLOSE_GRACE_MS = 1_000;

export interface ConnectionOptions {
  /** Sent in every request header; brokers log it and quotas key on it. */
  clientId?: string;
  /** How long to wait for the TCP connection. */
  connectTimeoutMs?: number;
  /** How long to wait for each response unless the request says otherwise. */
  requestTimeoutMs?: number;
}

export interface RequestOptions {
  timeoutMs?: number;
  /** For messages: "ApiVersions v2". */
  label?: string;
}

interface Pending {
  readonly label: string;
  readonly resolve: (body: Reader) => void;
  readonly reject: (err: GeoError) => void;
  readonly timer: NodeJS.Timeout;
}

export class BrokerConnection {
  /** "host:port" of the broker, for messages and details. */
  readonly broker: string;
  private readonly socket: Socket;
  private readonly clientId: string;
  private readonly requestTimeoutMs: number;
  private readonly pending = new Map<number, Pending>();
  private chunks: Buffer[] = [];
  private buffered = 0;
  private nextCorrelationId = 1;
  private failure: GeoError | null = null;
  private readonly closedPromise: Promise<void>;

  /** Opens the TCP connection; rejects with KAFKA_UNAVAILABLE if the broker cannot be reached in time. */
  static async connect(address: string | BrokerAddress, options: ConnectionOptions = {}): Promise<BrokerConnection> {
    const a = typeof address === 'string' ? parseBrokerAddress(address) : address;
    const broker = formatBrokerAddress(a);
    const timeoutMs = options.connectTimeoutMs ?? DEFAULT_TIMEOUT_MS;
    return new Promise((resolve, reject) => {
      const socket = netConnect({ host: a.host, port: a.port });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(unavailable(`connecting to Kafka broker ${broker} timed out after ${timeoutMs} ms`, broker, { reason: 'connect-timeout', timeoutMs }));
      }, timeoutMs);
      const onError = (err: Error): void => {
        clearTimeout(timer);
        socket.destroy();
        reject(unavailable(`cannot connect to Kafka broker ${broker}: ${err.message}`, broker, { reason: 'connect-failed', errno: errnoOf(err) }, err));
      };
      socket.once('error', onError);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.off('error', onError);
        resolve(new BrokerConnection(socket, broker, options));
      });
    });
  }

  private constructor(socket: Socket, broker: string, options: ConnectionOptions) {
    this.socket = socket;
    this.broker = broker;
    this.clientId = options.clientId ?? DEFAULT_CLIENT_ID;
    this.requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_TIMEOUT_MS;
    socket.setNoDelay(true);
    this.closedPromise = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => this.fail(unavailable(`connection to Kafka broker ${broker} failed: ${err.message}`, broker, { reason: 'socket-error', errno: errnoOf(err) }, err), { destroy: true }));
    socket.on('end', () => this.fail(unavailable(`Kafka broker ${broker} closed the connection`, broker, { reason: 'closed-by-broker' })));
    socket.on('close', () => this.fail(unavailable(`the connection to Kafka broker ${broker} is closed`, broker, { reason: 'closed' })));
  }

  /** True once the connection can no longer carry requests. */
  get closed(): boolean {
    return this.failure !== null;
  }

  /**
   * Sends one request and resolves with a reader positioned at the start of the response body
   * (just after the correlation id).
   */
  request(apiKey: number, apiVersion: number, body: Uint8Array, options: RequestOptions = {}): Promise<Reader> {
    const label = options.label ?? `api ${apiKey} v${apiVersion}`;
    if (this.failure) return Promise.reject(this.failure);
    const timeoutMs = options.timeoutMs ?? this.requestTimeoutMs;
    const correlationId = this.nextCorrelationId;
    this.nextCorrelationId = correlationId >= 0x7fffffff ? 1 : correlationId + 1;
    const header = new Writer(64).int16(apiKey).int16(apiVersion).int32(correlationId).nullableString(this.clientId);
    const size = header.length + body.byteLength;
    const frame = new Writer(4 + size).int32(size).raw(header.toBuffer()).raw(body).toBuffer();
    return new Promise<Reader>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.fail(unavailable(`${label} to Kafka broker ${this.broker} got no response within ${timeoutMs} ms`, this.broker, { reason: 'request-timeout', timeoutMs, request: label }), { destroy: true });
      }, timeoutMs);
      this.pending.set(correlationId, { label, resolve, reject, timer });
      this.socket.write(frame);
    });
  }

  /** Closes the connection, failing any request still waiting; resolves once the socket is closed. */
  async close(): Promise<void> {
    this.fail(unavailable(`the connection to Kafka broker ${this.broker} was closed by the client`, this.broker, { reason: 'closed' }));
    if (!this.socket.destroyed) {
      this.socket.end();
      const force = setTimeout(() => this.socket.destroy(), CLOSE_GRACE_MS);
      force.unref();
      await this.closedPromise;
      clearTimeout(force);
    }
  }

  private onData(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    while (this.failure === null && this.buffered >= 4) {
      const size = this.peekInt32();
      if (size < 4 || size > MAX_FRAME_BYTES) {
        this.protocolError(`response frame size ${size} is out of range (4..${MAX_FRAME_BYTES})`);
        return;
      }
      if (this.buffered < 4 + size) return;
      const frame = this.take(4 + size).subarray(4);
      this.dispatch(frame);
    }
  }

  /** The size prefix at the front of the buffered bytes (at least 4 are buffered). */
  private peekInt32(): number {
    const first = this.chunks[0] as Buffer;
    if (first.length >= 4) return first.readInt32BE(0);
    this.chunks = [Buffer.concat(this.chunks, this.buffered)];
    return (this.chunks[0] as Buffer).readInt32BE(0);
  }

  /** Removes and returns the first n buffered bytes. */
  private take(n: number): Buffer {
    const all = this.chunks.length === 1 ? (this.chunks[0] as Buffer) : Buffer.concat(this.chunks, this.buffered);
    const rest = all.subarray(n);
    this.chunks = rest.length > 0 ? [rest] : [];
    this.buffered = rest.length;
    return all.subarray(0, n);
  }

  private dispatch(frame: Buffer): void {
    const correlationId = frame.readInt32BE(0);
    const p = this.pending.get(correlationId);
    if (!p) {
      this.protocolError(`response with correlation id ${correlationId}, which no request is waiting for`);
      return;
    }
    this.pending.delete(correlationId);
    clearTimeout(p.timer);
    p.resolve(new Reader(frame.subarray(4)));
  }

  private protocolError(what: string): void {
    this.fail(new GeoError('KAFKA_OPERATION_FAILED', `Kafka broker ${this.broker} broke the protocol: ${what}`, { details: { broker: this.broker, reason: 'protocol' } }), { destroy: true });
  }

  /** Marks the connection unusable with `err` (the first failure wins) and rejects every waiting request. */
  private fail(err: GeoError, o: { destroy?: boolean } = {}): void {
    if (this.failure === null) this.failure = err;
    const waiting = [...this.pending.values()];
    this.pending.clear();
    for (const p of waiting) {
      clearTimeout(p.timer);
      p.reject(this.failure);
    }
    if (o.destroy === true && !this.socket.destroyed) this.socket.destroy();
  }
}

function unavailable(message: string, broker: string, details: Record<string, unknown>, cause?: unknown): GeoError {
  return new GeoError('KAFKA_UNAVAILABLE', message, { cause, details: { broker, ...details } });
}

function errnoOf(err: Error): string | undefined {
  const code = (err as NodeJS.ErrnoException).code;
  return typeof code === 'string' ? code : undefined;
}
