/**
 * How long the caller will wait for this answer, in milliseconds (like Envoy's
 * x-envoy-expected-rq-timeout-ms). The router sends its per-try timeout; the search endpoint
 * never works on a search longer than that, since nobody would read the answer.
 */
export const REQUEST_TIMEOUT_HEADER = 'x-request-timeout-ms';
