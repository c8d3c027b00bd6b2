/**
 * The serve-stale cache's key: one per normalized query, so the same search asked with its
 * parameters in another order, or a JSON body with its keys in another order, finds the same
 * answer. Routing hints (region, lat, lon) are not part of the query.
 */
import { createHash } from 'node:crypto';

export const ROUTING_PARAMS = new Set(['region', 'lat', 'lon']);

export function normalizedQuery(method: 'GET' | 'POST', params: URLSearchParams, body: Buffer | undefined): string {
  const pairs = [...params].filter(([k]) => !ROUTING_PARAMS.has(k)).sort(([a, av], [b, bv]) => (a < b ? -1 : a > b ? 1 : av < bv ? -1 : av > bv ? 1 : 0));
  const query = pairs.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
  if (method === 'GET') return `GET ?${query}`;
  return `POST ?${query} ${canonicalBody(body)}`;
}

export function cacheKey(prefix: string, normalized: string): string {
  return `${prefix}q:${createHash('sha256').update(normalized).digest('hex')}`;
}

/** JSON with object keys sorted at every level; the raw text when it is not JSON (such a query is never cached anyway). */
function canonicalBody(body: Buffer | undefined): string {
  if (body === undefined || body.length === 0) return '{}';
  const text = body.toString('utf8');
  try {
    return JSON.stringify(sortKeys(JSON.parse(text)));
  } catch {
    return text;
  }
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return Object.fromEntries(Object.keys(o).sort().map((k) => [k, sortKeys(o[k])]));
  }
  return v;
}
