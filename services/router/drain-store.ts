/**
 * Drain state shared by every router: a NATS JetStream key-value bucket, one key per region
 * (drain-record.ts). Each router reads the bucket at startup (so a drain survives restarts) and
 * watches it (so a drain made through any router reaches all of them within milliseconds).
 * The bucket keeps a short history per key: the audit trail of who drained what and why.
 */
import { Kvm } from '@nats-io/kv';
import type { KV, KvWatchEntry } from '@nats-io/kv';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/transport-node';
import { GeoError } from '../../core/errors.ts';
import type { Logger } from '../../core/logger.ts';
import { decodeDrainRecord, drainKey, encodeDrainRecord, regionOfKey } from './drain-record.ts';
import type { DrainRecord } from './drain-record.ts';

export interface DrainStoreOptions {
  url: string;
  bucket: string;
  log: Logger;
  /** Called for every change after the initial read, and once per region found at startup (initial = true). */
  onRecord: (region: string, record: DrainRecord | undefined, initial: boolean) => void;
  connectTimeoutMs?: number;
}

const HISTORY = 16;

export class DrainStore {
  private readonly revisions = new Map<string, number>();
  private watching: Promise<void> | undefined;
  private stopWatch: (() => void) | undefined;

  private constructor(
    private readonly nc: NatsConnection,
    private readonly kv: KV,
    private readonly o: DrainStoreOptions,
  ) {}

  /** Connects, reads every region's record, then starts watching; DRAIN_STORE_UNAVAILABLE (retriable) when NATS cannot be reached. */
  static async open(o: DrainStoreOptions): Promise<DrainStore> {
    let nc: NatsConnection;
    try {
      // Reconnect forever once connected: a NATS restart must not leave a router deaf to drains.
      nc = await connect({ servers: o.url, timeout: o.connectTimeoutMs ?? 3_000, maxReconnectAttempts: -1, reconnectTimeWait: 500, name: 'georeplica-router' });
    } catch (cause) {
      throw new GeoError('DRAIN_STORE_UNAVAILABLE', `Cannot connect to NATS at ${o.url} for the drain state.`, { cause, details: { url: o.url } });
    }
    try {
      const kv = await new Kvm(nc).create(o.bucket, { history: HISTORY });
      const store = new DrainStore(nc, kv, o);
      await store.load();
      await store.watch();
      return store;
    } catch (cause) {
      await nc.close().catch(() => undefined);
      if (cause instanceof GeoError) throw cause;
      throw new GeoError('DRAIN_STORE_UNAVAILABLE', `Cannot open the JetStream bucket "${o.bucket}" at ${o.url}.`, { cause, details: { url: o.url, bucket: o.bucket } });
    }
  }

  async put(record: DrainRecord): Promise<number> {
    try {
      return await this.kv.put(drainKey(record.region), encodeDrainRecord(record));
    } catch (cause) {
      throw new GeoError('DRAIN_STORE_UNAVAILABLE', `Cannot write the drain state of ${record.region} to the bucket "${this.o.bucket}".`, { cause, details: { region: record.region } });
    }
  }

  /** The record's past values, oldest first (at most the bucket's history). */
  async history(region: string): Promise<DrainRecord[]> {
    const out: DrainRecord[] = [];
    const it = await this.kv.history({ key: drainKey(region) });
    for await (const e of it) {
      if (e.operation === 'PUT') out.push(decodeDrainRecord(e.string()));
    }
    return out;
  }

  async close(): Promise<void> {
    this.stopWatch?.();
    await this.watching;
    await this.nc.close();
  }

  private async load(): Promise<void> {
    const keys = await this.kv.keys('drain.>');
    for await (const key of keys) {
      const e = await this.kv.get(key);
      if (e !== null) this.apply(e, true);
    }
  }

  private async watch(): Promise<void> {
    const it = await this.kv.watch({ key: 'drain.>' });
    this.stopWatch = () => it.stop();
    this.watching = (async () => {
      for await (const e of it) this.apply(e, false);
    })().catch((err: unknown) => this.o.log.error({ err }, 'drain watcher stopped'));
  }

  private apply(e: Pick<KvWatchEntry, 'key' | 'revision' | 'operation' | 'string'>, initial: boolean): void {
    const region = regionOfKey(e.key);
    if (region === undefined) return;
    // The watcher re-delivers what load() already read; only newer revisions count.
    if ((this.revisions.get(e.key) ?? 0) >= e.revision) return;
    this.revisions.set(e.key, e.revision);
    if (e.operation !== 'PUT') {
      this.o.onRecord(region, undefined, initial);
      return;
    }
    try {
      this.o.onRecord(region, decodeDrainRecord(e.string()), initial);
    } catch (err) {
      this.o.log.error({ err, key: e.key }, 'ignoring a malformed drain record');
    }
  }
}
