/**
 * The regional search endpoint (fastify):
 *
 *   GET  /search?q=&size=&from=   simple_query_string over every field              200 | 400 | 503
 *   POST /search                  { query, fields, match, filters, sort, size, from }  200 | 400 | 503
 *   GET  /health                  OpenSearch, Kafka, indexer, freshness per source  200 | 503
 *   GET  /metrics                 Prometheus text format
 *
 * Every search answer names the region that served it and its freshness per source region
 * (body and `X-Served-By-Region` / `X-Freshness-Ms` headers), so a router or a client can
 * decide whether the answer is fresh enough. Tombstones (services/indexer/tombstone.ts) never
 * match. Invalid queries are 400s naming the field and the rule, never an OpenSearch trace.
 * The API owns its OpenSearch client and health monitor: closing the app releases both.
 */
import { Client, errors } from '@opensearch-project/opensearch';
import { fastify, LogController } from 'fastify';
import type { FastifyBaseLogger, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Deployment } from '../../config/schema.ts';
import { GeoError } from '../../core/errors.ts';
import { installErrorHandler } from '../../core/http/error-handler.ts';
import { contentTypeProblem } from '../../core/http/content-type.ts';
import { REQUEST_TIMEOUT_HEADER } from '../../core/http/request-timeout.ts';
import type { Logger } from '../../core/logger.ts';
import { Topology } from '../../topology/topology.ts';
import { searchError } from '../indexer/search-errors.ts';
import { DELETED_FIELD, ORIGIN_FIELD, TS_FIELD, VERSION_FIELD } from '../indexer/tombstone.ts';
import type { IndexerReport, RegionHealth } from './region-health.ts';
import { indexerReportFrom, RegionHealthMonitor } from './region-health.ts';
import { SearchMetrics } from './search-metrics.ts';
import type { FieldKind, SearchRequest } from './search-query.ts';
import { fieldKinds, invalidQuery, mappingProblems, parseSearchBody, parseSearchParams, toOpenSearchBody } from './search-query.ts';

export interface SearchApiOptions {
  deployment: Readonly<Deployment>;
  region: string;
  log: Logger;
  /** The alias searched. Default "documents" (the indexer's default). */
  index?: string;
  /** The region's OpenSearch URL by default. */
  searchUrl?: string;
  /** Where freshness comes from: the indexer's status API URL (default http://127.0.0.1:<ports.indexer>) or a function. */
  indexer?: { url: string } | { report: () => Promise<IndexerReport> };
  /** Health probe period. Default 250 ms. */
  healthIntervalMs?: number;
  /** Per-search timeout towards OpenSearch. Default 5 s; a caller's `X-Request-Timeout-Ms` can only shorten it. */
  searchTimeoutMs?: number;
  /**
   * Searches in flight towards OpenSearch at most; one more is refused at once with 503
   * (SEARCH_OVERLOADED) rather than queued, so a router fails it over while it can still help.
   * Default 64.
   */
  maxInFlight?: number;
  /** Retry-After (s) on 503. Default 2. */
  retryAfterSec?: number;
  metrics?: SearchMetrics;
  /** Collect process metrics (CPU, memory, event loop) too. Off in tests. */
  processMetrics?: boolean;
}

export interface SearchHit {
  id: string;
  /** The event version that wrote this document (decimal text of a 63-bit integer). */
  version: string;
  origin: string;
  ts: string;
  score: number | null;
  document: Record<string, unknown>;
}

export interface SearchResponseBody {
  region: string;
  took: number;
  total: number;
  totalRelation: 'eq' | 'gte';
  hits: SearchHit[];
  freshness: Record<string, number | null>;
  maxFreshnessMs: number | null;
}

export interface SearchApi {
  app: FastifyInstance;
  health(): RegionHealth;
  close(): Promise<void>;
}

/** Field mappings change only when documents bring new fields; a few seconds of staleness is harmless. */
const MAPPING_TTL_MS = 5_000;
/** How soon a query naming a field the cached mapping lacks may read the mapping again. */
const MAPPING_MISS_RETRY_MS = 250;
const BOOKKEEPING = new Set([DELETED_FIELD, VERSION_FIELD, ORIGIN_FIELD, TS_FIELD]);

export async function buildSearchApi(o: SearchApiOptions): Promise<SearchApi> {
  const regionConfig = new Topology(o.deployment).region(o.region);
  const region = o.region;
  const alias = o.index ?? 'documents';
  const log = o.log.child({ component: 'search-api', region });
  const metrics = o.metrics ?? new SearchMetrics({ defaultMetrics: o.processMetrics ?? false });
  const searchTimeoutMs = o.searchTimeoutMs ?? 5_000;
  const maxInFlight = o.maxInFlight ?? 64;
  let inFlight = 0;
  const retryAfter = String(o.retryAfterSec ?? 2);
  const client = new Client({ node: o.searchUrl ?? regionConfig.search.url, requestTimeout: searchTimeoutMs, maxRetries: 0 });
  const indexer = o.indexer && 'report' in o.indexer ? o.indexer.report : indexerReportFrom(o.indexer?.url ?? `http://127.0.0.1:${regionConfig.ports.indexer}`);
  const monitor = new RegionHealthMonitor({
    region,
    sources: Object.keys(o.deployment.regions),
    search: client,
    kafkaBootstrap: regionConfig.kafka.bootstrap,
    indexerReport: indexer,
    log,
    ...(o.healthIntervalMs === undefined ? {} : { intervalMs: o.healthIntervalMs }),
    onRound: (h) => metrics.observeHealth(h),
  });
  let mapping: { at: number; kinds: Map<string, FieldKind> } | undefined;

  const requestLog: FastifyBaseLogger = log;
  const app = fastify({ loggerInstance: requestLog, logController: new LogController({ disableRequestLogging: true }), bodyLimit: 64 * 1024 });
  installErrorHandler(app, { retryAfterSec: Number(retryAfter) });
  app.addHook('onResponse', (request, reply, done) => {
    if (request.routeOptions.url === '/search') {
      const outcome = SearchMetrics.outcomeOf(reply.statusCode);
      metrics.requests.inc({ method: request.method, outcome });
      metrics.duration.observe({ outcome }, reply.elapsedTime / 1000);
    }
    done();
  });
  app.addHook('onClose', async () => {
    await monitor.stop();
    await client.close();
    log.info('search API closed');
  });

  app.get('/search', async (request, reply) => send(reply, await search(parseSearchParams(request.query as Record<string, unknown>), timeoutFor(request))));

  app.post(
    '/search',
    {
      // Checked before parsing, so a wrong type is refused by its rule rather than by a parser's message.
      preParsing: (request, _reply, _payload, done) => {
        const problem = contentTypeProblem(request.headers['content-type'], ['application/json'], 'POST /search');
        done(problem === undefined ? null : invalidQuery([problem]));
      },
    },
    async (request, reply) => send(reply, await search(parseSearchBody(request.body), timeoutFor(request))),
  );

  app.get('/health', (_request, reply) => {
    const h = monitor.snapshot();
    return reply.code(h.status === 'down' ? 503 : 200).header('x-served-by-region', region).send(h);
  });

  app.get('/metrics', async (_request, reply) => reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()));

  await monitor.start();
  await app.ready();
  log.info({ alias, health: monitor.snapshot().status }, 'search API ready');
  return { app, health: () => monitor.snapshot(), close: () => app.close() };

  function send(reply: FastifyReply, body: SearchResponseBody): FastifyReply {
    void reply.header('x-served-by-region', region);
    if (body.maxFreshnessMs !== null) void reply.header('x-freshness-ms', String(body.maxFreshnessMs));
    return reply.send(body);
  }

  /** The caller's remaining time (a router's per-try timeout), when it says so and it is shorter than ours. */
  function timeoutFor(request: FastifyRequest): number {
    const said = Number(request.headers[REQUEST_TIMEOUT_HEADER]);
    return Number.isInteger(said) && said > 0 ? Math.min(said, searchTimeoutMs) : searchTimeoutMs;
  }

  async function search(r: SearchRequest, timeoutMs: number): Promise<SearchResponseBody> {
    if (inFlight >= maxInFlight) {
      metrics.shed.inc();
      throw new GeoError('SEARCH_OVERLOADED', `Region ${region} has ${inFlight} searches in flight, its limit; try another region.`, { details: { region, inFlight, maxInFlight } });
    }
    inFlight++;
    try {
      return await searchNow(r, timeoutMs);
    } finally {
      inFlight--;
    }
  }

  async function searchNow(r: SearchRequest, timeoutMs: number): Promise<SearchResponseBody> {
    // One deadline for both calls: a slow mapping read leaves the search only what remains.
    const deadline = Date.now() + timeoutMs;
    const kinds = await fieldKindsOf(fieldsOf(r), timeoutMs);
    const kindOf = (f: string): FieldKind => kinds.get(f) ?? 'unmapped';
    const problems = mappingProblems(r, kindOf);
    if (problems.length > 0) throw invalidQuery(problems);
    const h = monitor.snapshot();
    const base = { region, freshness: h.freshness, maxFreshnessMs: h.maxFreshnessMs };
    try {
      // Past the caller's deadline an answer helps nobody; giving up closes the connection, which cancels the search in OpenSearch.
      const res = await client.search({ index: alias, body: toOpenSearchBody(r, kindOf) }, { requestTimeout: Math.max(1, deadline - Date.now()) });
      const body = res.body as unknown as OpenSearchHits;
      return {
        ...base,
        took: body.took,
        total: body.hits.total.value,
        totalRelation: body.hits.total.relation,
        hits: body.hits.hits.map(toHit),
      };
    } catch (err) {
      if (isIndexMissing(err)) return { ...base, took: 0, total: 0, totalRelation: 'eq', hits: [] };
      throw queryError(err);
    }
  }

  /** The mapping's field kinds, read again when stale or when it does not know a field the query names (new fields appear with new documents). */
  async function fieldKindsOf(needed: readonly string[], timeoutMs: number): Promise<Map<string, FieldKind>> {
    const age = mapping ? Date.now() - mapping.at : Infinity;
    const missing = mapping !== undefined && needed.some((f) => !mapping?.kinds.has(f));
    if (mapping && age < MAPPING_TTL_MS && !(missing && age > MAPPING_MISS_RETRY_MS)) return mapping.kinds;
    try {
      const res = await client.indices.getMapping({ index: alias }, { requestTimeout: timeoutMs });
      const kinds = new Map<string, FieldKind>();
      for (const index of Object.values(res.body as Record<string, { mappings?: { properties?: Record<string, unknown> } }>)) fieldKinds(index.mappings?.properties ?? {}, '', kinds);
      mapping = { at: Date.now(), kinds };
      return kinds;
    } catch (err) {
      if (isIndexMissing(err)) return new Map();
      throw searchError(err, `reading the mapping of ${alias}`);
    }
  }
}

/** The fields whose mapping decides how the query is built: exact filters and sorts. */
function fieldsOf(r: SearchRequest): string[] {
  return [...Object.keys(r.filters ?? {}), ...(r.sort ?? []).map((s) => s.field)];
}

interface OpenSearchHits {
  took: number;
  hits: { total: { value: number; relation: 'eq' | 'gte' }; hits: Array<{ _id: string; _score: number | null; _source?: Record<string, unknown> }> };
}

function toHit(h: OpenSearchHits['hits']['hits'][number]): SearchHit {
  const source = h._source ?? {};
  const document: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(source)) if (!BOOKKEEPING.has(k)) document[k] = v;
  const text = (v: unknown): string => (typeof v === 'string' ? v : '');
  return { id: h._id, version: text(source[VERSION_FIELD]), origin: text(source[ORIGIN_FIELD]), ts: text(source[TS_FIELD]), score: h._score, document };
}

function isIndexMissing(err: unknown): boolean {
  return err instanceof errors.ResponseError && err.statusCode === 404 && String((err.body as { error?: { type?: string } } | undefined)?.error?.type) === 'index_not_found_exception';
}

/** OpenSearch's 400s are the client's mistake (e.g. a filter value of the wrong type for the field): its reason, no trace. */
function queryError(err: unknown): GeoError {
  if (err instanceof errors.ResponseError && err.statusCode === 400) {
    const body = err.body as { error?: { root_cause?: Array<{ reason?: string }>; reason?: string } } | undefined;
    const reason = body?.error?.root_cause?.[0]?.reason ?? body?.error?.reason ?? 'the search cluster refused the query';
    return invalidQuery([{ path: '(query)', value: undefined, expected: `expected a query the index accepts; OpenSearch refused it: ${reason}` }]);
  }
  return searchError(err, 'searching');
}
