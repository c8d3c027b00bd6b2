/**
 * The regional ingest API: accepts document writes in one region and turns each into a document
 * event (services/events/document-event.ts) on the region's documents topic, keyed by document
 * id, versioned by this process's HybridClock. A write is answered 202 only once Kafka has
 * acknowledged its event (idempotent producer, acks=all); when Kafka cannot be reached in time
 * the answer is 503 with Retry-After, never a 202.
 *
 *   PUT    /documents/:id     body: the document (application/json)   202 { id, version, partition, offset }
 *   POST   /documents         body: the document; id generated (UUID v7) 202 { id, version, partition, offset }
 *   DELETE /documents/:id                                               202 { id, version, partition, offset }
 *   POST   /documents/_bulk   application/x-ndjson (bulk-format.ts)     200 { errors, items: [per line] }
 *   GET    /health            Kafka reachability (cached 1 s)           200 | 503
 *   GET    /metrics           Prometheus text format
 *
 * Bad input is 400 naming the field and the rule (request-refusal.ts). See services/ingest/README.md.
 * The API owns its producer: closing the app flushes and disconnects it.
 */
import { fastify, LogController } from 'fastify';
import type { FastifyBaseLogger, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Deployment } from '../../config/schema.ts';
import { GeoError } from '../../core/errors.ts';
import { errorBody, httpStatusOf, installErrorHandler } from '../../core/http/error-handler.ts';
import { kafkaClient } from '../../core/kafka.ts';
import type { Logger } from '../../core/logger.ts';
import { DEFAULT_EVENT_LIMITS, encodeEvent, validateDocumentInput } from '../events/document-event.ts';
import type { DocumentEvent, EventLimits, JsonObject } from '../events/document-event.ts';
import { HybridClock, regionIdOf } from '../events/hybrid-clock.ts';
import { parseBulk } from './bulk-format.ts';
import type { BulkAction } from './bulk-format.ts';
import { uuidV7 } from './document-id.ts';
import { DocumentProducer } from './document-producer.ts';
import type { DocumentProducerSettings, ProducerState } from './document-producer.ts';
import { IngestMetrics } from './ingest-metrics.ts';
import { CachedReachability } from '../../core/kafka-reachability.ts';
import { contentTypeRefusal, invalidDocument, invalidRequest, problemAt } from './request-refusal.ts';

export interface IngestApiOptions {
  deployment: Readonly<Deployment>;
  /** The region this API accepts writes for; its Kafka and documents topic are written to. */
  region: string;
  /** Producer settings (message timeout, partitions of a created topic, linger). */
  producer?: DocumentProducerSettings;
  log: Logger;
  /** The topic written to; the deployment's `topics.documents` by default. */
  topic?: string;
  /** Document limits; DEFAULT_EVENT_LIMITS by default. */
  limits?: Partial<EventLimits>;
  /** Retry-After (seconds) on 503 answers. Default 5. */
  retryAfterSec?: number;
  /** Process metrics (CPU, memory, event loop) in /metrics; off by default, on in main.ts. */
  processMetrics?: boolean;
}

export interface IngestApi {
  readonly app: FastifyInstance;
  /** Closes the app: stops taking requests, then flushes and disconnects the producer. */
  close(): Promise<void>;
}

/** What a write is answered with once Kafka acknowledged its event. */
export interface WriteAccepted {
  id: string;
  /** Decimal text of the event's 63-bit version. */
  version: string;
  partition: number;
  /** Decimal text of the record's offset. */
  offset: string;
}

export type BulkItem =
  | ({ line: number; op: 'upsert' | 'delete'; status: 202 } & WriteAccepted)
  | { line: number; op?: string; id?: string; status: number; error: ReturnType<typeof errorBody>['error'] };

export interface BulkBody {
  /** True when any line was not written. */
  errors: boolean;
  items: BulkItem[];
}

export interface HealthBody {
  status: 'ok' | 'unavailable';
  region: string;
  topic: string;
  kafka: { reachable: boolean; broker?: string; error?: string; producer: ProducerState };
}

type WriteOp = 'upsert' | 'delete' | 'bulk';

const JSON_TYPES = ['application/json'] as const;
const NDJSON_TYPES = ['application/x-ndjson', 'application/ndjson'] as const;
/** The raw JSON of a document may carry whitespace its encoded form drops; the exact limit is checked on the encoded body. */
const RAW_BODY_SLACK_BYTES = 64 * 1024;
const BULK_BODY_LIMIT_BYTES = 16 * 1024 * 1024;
/** Percent-encoded ids of 512 characters, with room to spare so that too-long ids get the id rule's message rather than a 404. */
const MAX_PARAM_LENGTH = 4096;

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Which write a route performs, for georeplica_ingest_requests_total. */
    ingestOp?: WriteOp;
  }
}

export async function buildIngestApi(o: IngestApiOptions): Promise<IngestApi> {
  const regionConfig = o.deployment.regions[o.region];
  const regionNames = Object.keys(o.deployment.regions);
  if (!regionConfig) {
    throw new GeoError('UNKNOWN_REGION', `Unknown region "${o.region}". Valid regions: ${[...regionNames].sort().join(', ')}.`, { details: { region: o.region, valid: regionNames } });
  }
  const region = o.region;
  const topic = o.topic ?? o.deployment.topics.documents;
  const limits: EventLimits = { ...DEFAULT_EVENT_LIMITS, ...definedOnly(o.limits ?? {}) };
  const clock = new HybridClock({ regionId: regionIdOf(regionNames, region) });
  const log = o.log.child({ component: 'ingest-api', region, topic });
  const metrics = new IngestMetrics({ defaultMetrics: o.processMetrics === true });
  const bootstrap = regionConfig.kafka.bootstrap;
  const producer = new DocumentProducer({
    kafka: kafkaClient({ bootstrap, clientId: `georeplica-ingest-${region}`, log }),
    bootstrap,
    topic,
    region,
    log,
    ...(o.producer ? { settings: o.producer } : {}),
  });
  const reachability = new CachedReachability({ bootstrap, timeoutMs: 1_000, ttlMs: 1_000, onResult: (r) => metrics.kafkaUp.set(r.reachable ? 1 : 0) });
  const rawBodyLimit = limits.maxBodyBytes + RAW_BODY_SLACK_BYTES;

  const requestLog: FastifyBaseLogger = log;
  const app = fastify({
    loggerInstance: requestLog,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: rawBodyLimit,
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false } },
  });
  installErrorHandler(app, o.retryAfterSec === undefined ? {} : { retryAfterSec: o.retryAfterSec });
  installParsers(app);
  app.addHook('onResponse', (request, reply, done) => {
    const op = request.routeOptions.config.ingestOp;
    if (op !== undefined) metrics.requests.inc({ op, outcome: IngestMetrics.outcomeOf(reply.statusCode) });
    request.log.debug({ method: request.method, url: request.url, statusCode: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'request completed');
    done();
  });
  app.addHook('onClose', async () => {
    await producer.close();
    log.info('ingest API closed');
  });

  const jsonBody = { preParsing: bodyGuard(JSON_TYPES, rawBodyLimit) };

  app.put<{ Params: { id: string } }>('/documents/:id', { ...jsonBody, config: { ingestOp: 'upsert' } }, async (request, reply) => {
    const accepted = await write({ op: 'upsert', id: request.params.id, body: request.body });
    return reply.code(202).send(accepted);
  });

  app.post('/documents', { ...jsonBody, config: { ingestOp: 'upsert' } }, async (request, reply) => {
    const accepted = await write({ op: 'upsert', id: uuidV7(), body: request.body });
    return reply.code(202).header('location', `/documents/${accepted.id}`).send(accepted);
  });

  app.delete<{ Params: { id: string } }>('/documents/:id', { preParsing: noBody, config: { ingestOp: 'delete' } }, async (request, reply) => {
    const accepted = await write({ op: 'delete', id: request.params.id });
    return reply.code(202).send(accepted);
  });

  // The id is part of the path: without it there is nothing to write or delete.
  for (const method of ['PUT', 'DELETE'] as const) {
    for (const url of ['/documents', '/documents/']) {
      app.route({
        method,
        url,
        config: { ingestOp: method === 'PUT' ? 'upsert' : 'delete' },
        handler: () => {
          throw invalidDocument([problemAt('id', undefined, `expected a document id in the path: ${method} /documents/<id>${method === 'PUT' ? ' (or POST /documents to have one generated)' : ''}`)]);
        },
      });
    }
  }

  app.post('/documents/_bulk', { preParsing: bodyGuard(NDJSON_TYPES, BULK_BODY_LIMIT_BYTES), bodyLimit: BULK_BODY_LIMIT_BYTES, config: { ingestOp: 'bulk' } }, async (request, reply) => {
    const text = typeof request.body === 'string' ? request.body : '';
    const lines = parseBulk(text, limits);
    // Each line is its own record, sent in line order: one partition keeps the order of the lines of one id, and versions rise line by line.
    const items = await Promise.all(
      lines.map(async (l): Promise<BulkItem> => {
        if (!l.ok) {
          metrics.bulkLines.inc({ op: l.op === 'upsert' || l.op === 'delete' ? l.op : 'unknown', outcome: 'invalid' });
          return { line: l.line, ...(l.op === undefined ? {} : { op: l.op }), ...(l.id === undefined ? {} : { id: l.id }), status: httpStatusOf(l.error), error: errorBody(l.error).error };
        }
        return writeLine(l.action);
      }),
    );
    const errors = items.some((i) => i.status !== 202);
    const accepted = items.filter((i) => i.status === 202).length;
    const unavailable = items.filter((i) => i.status === 503).length;
    if (unavailable > 0) void reply.header('retry-after', String(o.retryAfterSec ?? 5));
    // Nothing written because Kafka is down: the whole request is worth retrying later.
    if (accepted === 0 && unavailable > 0) {
      const err = new GeoError('KAFKA_UNAVAILABLE', `Kafka of region ${region} is unavailable: none of the ${unavailable} valid lines was written.`, { details: { region, topic, items } });
      return reply.code(503).type('application/json; charset=utf-8').send(errorBody(err));
    }
    const body: BulkBody = { errors, items };
    return reply.code(200).send(body);
  });

  app.get('/health', async (_request, reply) => {
    const r = await reachability.check();
    const body: HealthBody = {
      status: r.reachable ? 'ok' : 'unavailable',
      region,
      topic,
      kafka: { reachable: r.reachable, ...(r.reachable ? { broker: r.broker } : { error: r.error }), producer: producer.state },
    };
    return reply.code(r.reachable ? 200 : 503).send(body);
  });

  app.get('/metrics', async (_request, reply) => {
    const text = await metrics.registry.metrics();
    return reply.type(metrics.registry.contentType).send(text);
  });

  await producer.start();
  await app.ready();
  log.info({ bootstrap, producer: producer.state }, 'ingest API ready');
  return { app, close: () => app.close() };

  /** Validates, versions, encodes and produces one write; resolves once Kafka acknowledged it. */
  async function write(w: { op: 'upsert'; id: string; body: unknown } | { op: 'delete'; id: string }): Promise<WriteAccepted> {
    if (w.op === 'upsert') {
      const problems = validateDocumentInput(w.id, w.body, limits);
      if (problems.length > 0) throw invalidDocument(problems);
    } else {
      const problems = validateDocumentInput(w.id, {}, limits);
      if (problems.length > 0) throw invalidDocument(problems);
    }
    const version = clock.next();
    const envelope = { schema: 1 as const, id: w.id, version: version.decimal, origin: region, ts: new Date().toISOString() };
    const event: DocumentEvent = w.op === 'upsert' ? { ...envelope, op: 'upsert', body: w.body as JsonObject } : { ...envelope, op: 'delete' };
    const value = encodeEvent(event, limits);
    const t0 = process.hrtime.bigint();
    try {
      const ack = await producer.send(w.id, value);
      metrics.produceLatency.observe({ outcome: 'acknowledged' }, seconds(t0));
      metrics.events.inc({ op: w.op });
      metrics.eventBytes.inc(value.length + Buffer.byteLength(w.id));
      return { id: w.id, version: version.decimal, partition: ack.partition, offset: ack.offset };
    } catch (err) {
      metrics.produceLatency.observe({ outcome: 'failed' }, seconds(t0));
      throw err;
    }
  }

  async function writeLine(a: BulkAction): Promise<BulkItem> {
    try {
      const accepted = await write(a.op === 'upsert' ? { op: 'upsert', id: a.id, body: a.body } : { op: 'delete', id: a.id });
      metrics.bulkLines.inc({ op: a.op, outcome: 'accepted' });
      return { line: a.line, op: a.op, status: 202, ...accepted };
    } catch (raw) {
      const err = raw instanceof GeoError ? raw : new GeoError('INTERNAL', `Internal error while writing bulk line ${a.line}; the service log has the details.`, { cause: raw });
      const status = httpStatusOf(err);
      if (status >= 500 && status !== 503) log.error({ err: raw, line: a.line, id: a.id }, 'bulk line failed');
      metrics.bulkLines.inc({ op: a.op, outcome: IngestMetrics.outcomeOf(status) });
      return { line: a.line, op: a.op, id: a.id, status, error: errorBody(err).error };
    }
  }
}

/**
 * The body parsers: JSON for documents (fastify's own parser, so prototype-poisoning checks stay,
 * with its errors reworded as problems) and NDJSON read as text for bulk. Any other content type
 * is refused before reading the body (see bodyGuard); the catch-all keeps fastify's 415 out.
 */
function installParsers(app: FastifyInstance): void {
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.trim() === '') {
      done(null, undefined);
      return;
    }
    void parseJson(request, text, (err, parsed) => {
      if (err) done(invalidRequest([problemAt('body', text, `expected JSON text (${err.message})`)]), undefined);
      else done(null, parsed);
    });
  });
  for (const type of NDJSON_TYPES) app.addContentTypeParser(type, { parseAs: 'string' }, (_request, body, done) => done(null, body));
  app.addContentTypeParser('*', (request, _payload, done) => {
    done(invalidRequest([problemAt('content-type', request.headers['content-type'], `expected "application/json" (documents) or "application/x-ndjson" (POST /documents/_bulk)`)]), undefined);
  });
}

/**
 * A route's preParsing hook: the content type must be one of `accepted` and a declared length
 * must be within `limit`, both checked before a byte of the body is read. A request without a
 * body passes, and the handler reports the missing body.
 */
function bodyGuard(accepted: readonly string[], limit: number) {
  return (request: FastifyRequest, _reply: FastifyReply): Promise<void> => {
    if (!hasBody(request)) return Promise.resolve();
    const refusal = contentTypeRefusal(request.headers['content-type'], accepted, `${request.method} ${request.routeOptions.url ?? request.url}`);
    if (refusal) return Promise.reject(refusal);
    const length = Number(request.headers['content-length']);
    if (Number.isFinite(length) && length > limit) return Promise.reject(invalidRequest([problemAt('body', `${length} bytes`, `expected a request body of at most ${limit} bytes`)]));
    return Promise.resolve();
  };
}

/** DELETE takes no body: one is refused rather than silently ignored. */
function noBody(request: FastifyRequest, _reply: FastifyReply): Promise<void> {
  if (!hasBody(request)) return Promise.resolve();
  return Promise.reject(invalidRequest([problemAt('body', `${request.headers['content-length'] ?? 'a chunked'} bytes`, 'expected no body for DELETE /documents/:id')]));
}

function hasBody(request: FastifyRequest): boolean {
  const length = request.headers['content-length'];
  return request.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

function seconds(t0: bigint): number {
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
