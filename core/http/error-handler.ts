/**
 * How every georeplica HTTP service answers errors: a body `{ error: { code, message, details } }`
 * with a catalogue code (never a stack trace), and the status decided in one place,
 * `httpStatusOf`. Framework errors (schema validation, unparsable bodies) become
 * INVALID_ARGUMENT naming the field; anything that is not a GeoError becomes INTERNAL, and
 * its message and stack go only to the log.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { GeoError } from '../errors.ts';
import type { ErrorCode } from '../errors.ts';
import { notFound } from './refusal.ts';

export interface ErrorBody {
  error: { code: ErrorCode; message: string; details: Readonly<Record<string, unknown>> };
}

export interface ErrorHandlerOptions {
  /** Retry-After (seconds) sent with 503 answers to retriable errors. Default 5. */
  retryAfterSec?: number;
}

/** The one mapping from errors to HTTP statuses. */
export function httpStatusOf(err: GeoError): number {
  switch (err.code) {
    case 'UNKNOWN_REGION':
    case 'INVALID_ARGUMENT':
    case 'EVENT_INVALID':
      return 400;
    case 'UNAUTHENTICATED':
      return 401;
    case 'FORBIDDEN':
      return 403;
    case 'NOT_FOUND':
    case 'RUNTIME_UNKNOWN_SERVER':
      return 404;
    default:
      return err.retriable ? 503 : 500;
  }
}

export function errorBody(err: GeoError): ErrorBody {
  return { error: { code: err.code, message: err.message, details: err.details } };
}

/** Installs the error and not-found handlers on `app`. */
export function installErrorHandler(app: FastifyInstance, o: ErrorHandlerOptions = {}): void {
  const retryAfter = String(o.retryAfterSec ?? 5);
  app.setErrorHandler((raw: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const err = toGeoError(raw, request);
    const status = httpStatusOf(err);
    // Shedding load is the endpoint working as designed; its metric counts it.
    if (status >= 500 && err.code !== 'SEARCH_OVERLOADED') request.log.error({ err: raw, code: err.code, method: request.method, url: request.url }, 'request failed');
    else request.log.debug({ code: err.code, status, message: err.message }, 'request refused');
    if (status === 503) void reply.header('retry-after', retryAfter);
    if (err.code === 'UNAUTHENTICATED') void reply.header('www-authenticate', typeof err.details['challenge'] === 'string' ? err.details['challenge'] : 'Bearer');
    return reply.code(status).type('application/json; charset=utf-8').send(errorBody(err));
  });
  app.setNotFoundHandler((request: FastifyRequest) => {
    const path = request.url.split('?')[0] ?? request.url;
    throw notFound(`No route ${request.method} ${path}.`, { method: request.method, path });
  });
}

/** Any thrown value as a GeoError the client may see. */
export function toGeoError(raw: unknown, request: FastifyRequest): GeoError {
  if (raw instanceof GeoError) return raw;
  const fe = raw as Partial<FastifyError> | undefined;
  if (fe?.validation !== undefined) return validationError(fe);
  // The framework's own client errors: bad JSON, wrong content type, body too large, ...
  if (typeof fe?.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500 && typeof fe.message === 'string') {
    return new GeoError('INVALID_ARGUMENT', fe.message, { details: { reason: fe.code } });
  }
  return new GeoError('INTERNAL', `Internal error while serving request ${request.id}; the service log has the details.`, { details: { requestId: request.id } });
}

function validationError(fe: Partial<FastifyError>): GeoError {
  const location = fe.validationContext ?? 'request';
  const first = fe.validation?.[0];
  if (!first) return new GeoError('INVALID_ARGUMENT', `Invalid ${location}: ${fe.message ?? 'validation failed'}.`, { details: { location } });
  const at = first.instancePath.replace(/^\//, '').replaceAll('/', '.');
  const join = (name: unknown): string => (at === '' ? String(name) : `${at}.${String(name)}`);
  if (first.keyword === 'additionalProperties') {
    const field = join(first.params['additionalProperty']);
    return new GeoError('INVALID_ARGUMENT', `Unknown field "${field}" in the ${location}.`, { details: { location, field } });
  }
  if (first.keyword === 'required') {
    const field = join(first.params['missingProperty']);
    return new GeoError('INVALID_ARGUMENT', `Missing field "${field}" in the ${location}.`, { details: { location, field } });
  }
  const problem = first.message ?? `fails "${first.keyword}"`;
  if (at === '') return new GeoError('INVALID_ARGUMENT', `Invalid ${location}: ${problem}.`, { details: { location, problem } });
  return new GeoError('INVALID_ARGUMENT', `Invalid field "${at}" in the ${location}: ${problem}.`, { details: { location, field: at, problem } });
}
