/**
 * The routing hints of one HTTP request, in the precedence order of topology/client-region.ts:
 * `X-Client-Region` header or `region` parameter, then the client address (CIDR), then an
 * `X-Client-Country` header, then `lat`/`lon` parameters, then the default region.
 */
import type { FastifyRequest } from 'fastify';
import type { ClientHints } from '../../topology/client-region.ts';

export function clientHints(request: FastifyRequest, params: URLSearchParams, trustForwardedFor: boolean): ClientHints {
  const header = (name: string): string | undefined => {
    const v = request.headers[name];
    return Array.isArray(v) ? v[0] : v;
  };
  const forwarded = trustForwardedFor ? header('x-forwarded-for')?.split(',')[0]?.trim() : undefined;
  return {
    region: header('x-client-region') ?? params.get('region') ?? undefined,
    ip: forwarded !== undefined && forwarded !== '' ? forwarded : request.ip,
    country: header('x-client-country'),
    lat: params.get('lat') ?? undefined,
    lon: params.get('lon') ?? undefined,
  };
}
