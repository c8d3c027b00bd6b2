/** Refusals decided at the HTTP edge, as catalogue errors; error-handler.ts maps them to 401/403/404. */
import { GeoError } from '../errors.ts';

/** 401. `challenge` is sent as WWW-Authenticate. */
export function unauthenticated(message: string, challenge: string): GeoError {
  return new GeoError('UNAUTHENTICATED', message, { details: { challenge } });
}

/** 403. */
export function forbidden(message: string): GeoError {
  return new GeoError('FORBIDDEN', message);
}

/** 404. */
export function notFound(message: string, details?: Readonly<Record<string, unknown>>): GeoError {
  return new GeoError('NOT_FOUND', message, details === undefined ? {} : { details });
}
