/** Maps OpenSearch client errors to the error catalogue: unreachable, 429 and 5xx are retriable. */
import { errors } from '@opensearch-project/opensearch';
import { GeoError } from '../../core/errors.ts';

export function isRetriableStatus(status: number): boolean {
  return status === 429 || status >= 500;
}

export function searchError(err: unknown, what: string): GeoError {
  if (err instanceof GeoError) return err;
  const e = err as Error;
  if (err instanceof errors.ResponseError) {
    const status = err.statusCode ?? 0;
    return new GeoError(isRetriableStatus(status) ? 'SEARCH_UNAVAILABLE' : 'INTERNAL', `${what}: OpenSearch answered ${status}: ${e.message}`, {
      cause: err,
      retriable: isRetriableStatus(status),
      details: { status },
    });
  }
  const unreachable = err instanceof errors.ConnectionError || err instanceof errors.TimeoutError || err instanceof errors.NoLivingConnectionsError;
  return new GeoError(unreachable ? 'SEARCH_UNAVAILABLE' : 'INTERNAL', `${what}: ${e.message ?? String(err)}`, { cause: err, retriable: unreachable });
}
