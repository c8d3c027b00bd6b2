/**
 * The deployment schema: regions, their Kafka and search endpoints, service ports, topics,
 * latencies and client mappings, plus the settings of the local multi-region runtime.
 * Every object is strict, so a misspelt key is an error rather than a silently ignored setting.
 */
import { isIP } from 'node:net';
import { z } from 'zod';

export const REGION_NAME = /^[a-z][a-z0-9-]{1,30}[a-z0-9]$/;

const port = z.number({ error: 'expected a port number (integer 1-65535)' }).int('expected an integer port').min(1, 'expected a port ≥ 1').max(65535, 'expected a port ≤ 65535');
const regionName = z.string().regex(REGION_NAME, 'expected a region name: lowercase letters, digits and dashes, e.g. "us-east"');
const hostPort = z.string().regex(/^[A-Za-z0-9.-]+:\d{1,5}$/, 'expected "host:port", e.g. "127.0.0.1:11092"');
const topicName = z.string().regex(/^[A-Za-z0-9._-]{1,200}$/, 'expected a Kafka topic name: letters, digits, ".", "_" and "-"');
const cidr = z.string().refine(isCidr, 'expected a CIDR block such as "10.1.0.0/16" or "2001:db8::/32"');
const country = z.string().regex(/^[A-Z]{2}$/, 'expected an ISO 3166-1 alpha-2 country code, e.g. "US"');
const latencyMs = z.number({ error: 'expected a one-way latency in milliseconds' }).positive('expected a latency > 0 ms').max(2_000, 'expected a latency ≤ 2000 ms');

export const ServicePortsSchema = z.strictObject({
  ingest: port,
  search: port,
  indexer: port,
  replicator: port,
  router: port,
});

export const RegionSchema = z.strictObject({
  displayName: z.string().min(1).optional(),
  location: z.strictObject({
    lat: z.number().min(-90, 'expected a latitude ≥ -90').max(90, 'expected a latitude ≤ 90'),
    lon: z.number().min(-180, 'expected a longitude ≥ -180').max(180, 'expected a longitude ≤ 180'),
  }),
  clients: z
    .strictObject({
      networks: z.array(cidr).default([]),
      countries: z.array(country).default([]),
    })
    .default({ networks: [], countries: [] }),
  kafka: z.strictObject({
    /** One entry per broker. The local runtime starts one broker for each, with its controller on port + 1. */
    bootstrap: z.array(hostPort).min(1, 'expected at least one broker address'),
  }),
  search: z.strictObject({
    url: z.url({ protocol: /^https?$/, error: 'expected an http(s) URL, e.g. "http://127.0.0.1:11200"' }),
  }),
  ports: ServicePortsSchema,
});

export const TopicsSchema = z
  .strictObject({
    documents: topicName.default('documents'),
    heartbeats: topicName.default('heartbeats'),
    deadLetter: topicName.default('documents.dlq'),
  })
  .default({ documents: 'documents', heartbeats: 'heartbeats', deadLetter: 'documents.dlq' });

/**
 * Fault-injecting TCP proxies between regions (topology/link-proxy/, docs/CHAOS.md), one per
 * ordered region pair S->T: region T's replicator reaches S's brokers only through proxy S->T.
 * Off by default. Each broker of S gets an extra listener per other region T on
 * `broker port + portOffset + 20 × (T's index in regions)`, advertised as the proxy's port,
 * which is that + 100; the proxy's control API listens on the first broker's proxy port + 1.
 */
export const LinkProxiesSchema = z
  .strictObject({
    enabled: z.boolean({ error: 'expected true or false' }).default(false),
    portOffset: z.number({ error: 'expected a port offset (integer 100-5000)' }).int('expected an integer port offset').min(100, 'expected a port offset ≥ 100').max(5_000, 'expected a port offset ≤ 5000').default(400),
    /** One-way latency each proxy adds per direction until told otherwise: the pair's `latencies` entry, or none. */
    latency: z.enum(['topology', 'none'], { error: 'expected "topology" or "none"' }).default('topology'),
  })
  .prefault({});

export const RuntimeSchema = z
  .strictObject({
    /** Where the local runtime keeps data, logs and pids; relative paths are from the project root. */
    stateDir: z.string().min(1).default('.regions'),
    kafkaHeapMb: z.number().int().min(128).max(8192).default(320),
    opensearchHeapMb: z.number().int().min(256).max(8192).default(384),
    /** Seconds to wait for every server to report ready. */
    readyTimeoutSec: z.number().int().min(5).max(900).default(180),
    linkProxies: LinkProxiesSchema,
    /**
     * full: the JVMs' normal tiered JIT. quick: the first tier only (-XX:TieredStopAtLevel=1):
     * a broker or search node starts on about half the CPU time and idles cheaper, at a lower
     * peak throughput. For test and chaos runtimes on small machines; benchmarks use full.
     */
    jit: z.enum(['full', 'quick'], { error: 'expected "full" or "quick"' }).default('full'),
  })
  .default({ stateDir: '.regions', kafkaHeapMb: 320, opensearchHeapMb: 384, readyTimeoutSec: 180, linkProxies: { enabled: false, portOffset: 400, latency: 'topology' }, jit: 'full' });

const regex = z.string().refine((v) => {
  try {
    new RegExp(v);
    return true;
  } catch {
    return false;
  }
}, 'expected a valid JavaScript regular expression');

/** Replication between every ordered pair of regions; the defaults are the whole configuration most users need. */
export const ReplicationSchema = z
  .strictObject({
    /** Source topics to copy (a regex matched against the whole name). */
    include: regex.default('.*'),
    /** Source topics never to copy, on top of internal ones (`__*`, the replicator's own) and copies. */
    exclude: regex.default('.*[-.]internal|.*\\.replica|.*\\.dlq'),
    /** prefix: copies are named <source-region>.<topic> (MirrorMaker 2's default); identity: same name, loops stopped by provenance headers. */
    naming: z.enum(['prefix', 'identity']).default('prefix'),
    /** exactly-once: copies and checkpoints in one Kafka transaction; at-least-once: faster, may duplicate after a crash. */
    mode: z.enum(['exactly-once', 'at-least-once']).default('exactly-once'),
    /** Names this replicator's consumer groups, transactional ids and internal topics. */
    instance: z.string().regex(/^[a-z][a-z0-9-]{0,40}$/, 'expected a short lowercase name, e.g. "georeplica"').default('georeplica'),
    /** How often new source topics and partition increases are picked up. */
    topicSyncIntervalMs: z.number().int().min(500).max(10_000).default(5_000),
    heartbeatIntervalMs: z.number().int().min(100).max(10_000).default(1_000),
    /** Upper bound of one transaction: records, and bytes of record values and keys. */
    maxBatchRecords: z.number().int().min(1).max(100_000).default(10_000),
    maxBatchBytes: z.number().int().min(1_024).max(64 * 1024 * 1024).default(8 * 1024 * 1024),
    /**
     * A flow starts at most one copy (one transaction across its partitions) per this interval,
     * unless minCopyRecords records wait in all: at low rates, fewer and larger transactions for
     * at most this much more latency; at high rates copies are that large anyway and start at once.
     */
    minCopyIntervalMs: z.number().int().min(0).max(1_000).default(0),
    minCopyRecords: z.number().int().min(1).max(100_000).default(100),
    /**
     * The source consumer's fetch: the source broker answers once this many bytes wait for it, or
     * after fetchMaxWaitMs. 1: as soon as one record does (the lowest latency, one fetch request per
     * few records at low rates); larger: fewer, fuller fetches for up to fetchMaxWaitMs more.
     */
    fetchMinBytes: z.number().int().min(1).max(64 * 1024 * 1024).default(1_048_576),
    fetchMaxWaitMs: z.number().int().min(1).max(10_000).default(20),
    /** Cap of the backoff while a region is unavailable. */
    maxBackoffMs: z.number().int().min(100).max(60_000).default(5_000),
  })
  .default({
    include: '.*',
    exclude: '.*[-.]internal|.*\\.replica|.*\\.dlq',
    naming: 'prefix',
    mode: 'exactly-once',
    instance: 'georeplica',
    topicSyncIntervalMs: 5_000,
    heartbeatIntervalMs: 1_000,
    maxBatchRecords: 10_000,
    maxBatchBytes: 8 * 1024 * 1024,
    minCopyIntervalMs: 0,
    minCopyRecords: 100,
    fetchMinBytes: 1_048_576,
    fetchMaxWaitMs: 20,
    maxBackoffMs: 5_000,
  });

export const AdminSchema = z.strictObject({
  /** Bearer token required by every state-changing admin call (replicator, router). */
  token: z.string().min(16, 'expected a token of at least 16 characters'),
});

const ms = (min: number, max: number) => z.number({ error: `expected milliseconds, an integer ${min}-${max}` }).int(`expected an integer number of milliseconds`).min(min, `expected at least ${min} ms`).max(max, `expected at most ${max} ms`);
const ratio = z.number({ error: 'expected a fraction between 0 and 1' }).min(0, 'expected a fraction ≥ 0').max(1, 'expected a fraction ≤ 1');

/**
 * The geo-router (services/router, docs/ROUTER.md). Every field has a default, so a deployment
 * without a router section is valid; groups use prefault so a partial group keeps the other defaults.
 */
export const RouterSchema = z
  .strictObject({
    /** A region is fresh when its index is at most this far behind every source region. */
    freshnessBoundMs: ms(100, 3_600_000).default(5_000),
    /** Active health checks of each region's search endpoint (`GET /health`). */
    probe: z
      .strictObject({
        intervalMs: ms(50, 60_000).default(200),
        timeoutMs: ms(50, 60_000).default(500),
        /** Consecutive good probes before an unhealthy region is healthy again (no flapping). */
        rise: z.number().int().min(1).max(20).default(2),
        /** Consecutive failed probes before a healthy region is unhealthy. */
        fall: z.number().int().min(1).max(20).default(2),
      })
      .prefault({}),
    /** Passive outlier detection on real searches. */
    outlier: z
      .strictObject({
        /** Connect errors, 5xx or per-try timeouts in a row that eject a region. */
        consecutiveErrors: z.number().int().min(1).max(100).default(3),
        /** The first ejection lasts this long; each repeat adds as much again (Envoy: base × n). */
        baseEjectionMs: ms(100, 3_600_000).default(2_000),
        maxEjectionMs: ms(100, 3_600_000).default(30_000),
        /** At most this share of the regions is ejected at once (at least one), so a slow spell everywhere cannot eject them all. */
        maxEjectionPercent: z.number().int().min(0).max(100).default(50),
      })
      .prefault({}),
    /** One try of a search against one region. */
    perTryTimeoutMs: ms(10, 60_000).default(1_000),
    /** All tries of one search, retries and hedges included. */
    deadlineMs: ms(10, 120_000).default(3_000),
    /** Retries to the next region, as a share of live requests over the last 10 s, plus a floor. */
    retryBudget: z
      .strictObject({
        ratio: ratio.default(0.2),
        minPerSec: z.number().min(0).max(10_000).default(10),
      })
      .prefault({}),
    /** A second request to the next region after the primary's p95 latency. Searches are idempotent. */
    hedging: z
      .strictObject({
        enabled: z.boolean().default(false),
        ratio: ratio.default(0.05),
        minPerSec: z.number().min(0).max(10_000).default(1),
        /** Never hedge sooner than this, however fast the primary usually is. */
        minDelayMs: ms(1, 60_000).default(5),
      })
      .prefault({}),
    /** After an undrain passed its catch-up gate (or a region recovered), its traffic share ramps from 10 % to 100 % over this window. */
    slowStartMs: ms(0, 3_600_000).default(10_000),
    /** Measured round trips (EWMA of probes) against configured latencies when ranking: 0 ignores them, 1 uses only them. */
    measuredRttWeight: ratio.default(0.5),
    /** Take the client address from the first X-Forwarded-For entry (only behind a trusted proxy). */
    trustForwardedFor: z.boolean().default(false),
    /** Drain state, shared by every router through a JetStream key-value bucket. */
    nats: z
      .strictObject({
        url: z.string().min(1).default('nats://127.0.0.1:4222'),
        bucket: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'expected a bucket name: letters, digits, "_" and "-"').default('georeplica-router-drain'),
      })
      .prefault({}),
    /** Serve-stale cache: the last good answer per normalized query. */
    redis: z
      .strictObject({
        url: z.url({ protocol: /^rediss?$/, error: 'expected a redis:// URL, e.g. "redis://127.0.0.1:6379"' }).default('redis://127.0.0.1:6379'),
        keyPrefix: z.string().min(1).max(100).default('georeplica:router:'),
        /** How long a cached answer may be served when every region fails. */
        ttlSec: z.number().int().min(1).max(30 * 86_400).default(86_400),
        /** A query answered again within this window does not rewrite its cached answer. */
        refreshMs: ms(0, 3_600_000).default(1_000),
      })
      .prefault({}),
  })
  .prefault({});

export const DeploymentSchema = z.strictObject({
  version: z.literal(1, 'expected version: 1'),
  defaultRegion: regionName,
  regions: z.record(regionName, RegionSchema),
  /** One-way latencies in ms, each unordered pair given once: latencies.a.b. */
  latencies: z.record(regionName, z.record(regionName, latencyMs)),
  topics: TopicsSchema,
  replication: ReplicationSchema,
  admin: AdminSchema,
  runtime: RuntimeSchema,
  router: RouterSchema,
});

export type DeploymentInput = z.input<typeof DeploymentSchema>;
export type Deployment = z.output<typeof DeploymentSchema>;
export type RegionConfig = z.output<typeof RegionSchema>;
export type ServicePorts = z.output<typeof ServicePortsSchema>;
export type ReplicationConfig = z.output<typeof ReplicationSchema>;
export type RouterConfig = z.output<typeof RouterSchema>;
export type LinkProxiesConfig = z.output<typeof LinkProxiesSchema>;

export function isCidr(value: string): boolean {
  const slash = value.lastIndexOf('/');
  if (slash < 0) return false;
  const address = value.slice(0, slash);
  const bits = value.slice(slash + 1);
  const family = isIP(address);
  if (family === 0 || !/^\d{1,3}$/.test(bits)) return false;
  return Number(bits) <= (family === 4 ? 32 : 128);
}
