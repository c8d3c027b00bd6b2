/**
 * Bearer-token authentication for admin routes: `Authorization: Bearer <token>`, compared in
 * constant time. No or malformed credentials → 401 with a WWW-Authenticate challenge; a token
 * that does not match → 403. Use `verify` as a route's onRequest hook, so nothing of an
 * unauthenticated request (body, parameters) is parsed or validated.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { GeoError } from '../errors.ts';
import { forbidden, unauthenticated } from './refusal.ts';

export interface BearerAuthOptions {
  /** The one accepted token. */
  token: string;
  /** Names the protected space in the challenge, e.g. "georeplica-replicator". */
  realm: string;
}

export interface BearerAuth {
  /** onRequest hook: resolves when the request carries the token, throws UNAUTHENTICATED or FORBIDDEN otherwise. */
  readonly verify: (request: FastifyRequest) => Promise<void>;
  /** A short hash of the accepted token, safe to log as "who" of an admin action. */
  readonly fingerprint: string;
}

const MIN_TOKEN_LENGTH = 16;
// Any non-blank token, not only RFC 6750's b64token: the configured token may hold any character but spaces.
const BEARER = /^Bearer +(\S+) *$/i;

export function bearerAuth(o: BearerAuthOptions): BearerAuth {
  if (o.token.length < MIN_TOKEN_LENGTH) throw new GeoError('INVALID_ARGUMENT', `The admin token must have at least ${MIN_TOKEN_LENGTH} characters.`, { details: { field: 'admin.token' } });
  const expected = sha256(o.token);
  const realm = `Bearer realm="${o.realm}"`;
  return {
    fingerprint: tokenFingerprint(o.token),
    verify: (request) => {
      const header = request.headers.authorization;
      if (header === undefined || header === '') {
        request.log.warn({ ip: request.ip, method: request.method, url: request.url }, 'admin request without credentials refused');
        return Promise.reject(unauthenticated('This call needs "Authorization: Bearer <admin token>".', realm));
      }
      const presented = BEARER.exec(header)?.[1];
      if (presented === undefined) {
        request.log.warn({ ip: request.ip, method: request.method, url: request.url }, 'admin request with malformed credentials refused');
        return Promise.reject(unauthenticated('The Authorization header must be "Bearer <admin token>".', `${realm}, error="invalid_request"`));
      }
      // Hashing first gives equal-length buffers, so neither the comparison nor its length check leaks anything.
      if (!timingSafeEqual(sha256(presented), expected)) {
        request.log.warn({ ip: request.ip, method: request.method, url: request.url, token: tokenFingerprint(presented) }, 'admin request with a wrong token refused');
        return Promise.reject(forbidden('The bearer token is not valid for this service.'));
      }
      return Promise.resolve();
    },
  };
}

/** "sha256:" and the first 12 hex digits of the token's SHA-256: identifies a token in logs without revealing it. */
export function tokenFingerprint(token: string): string {
  return `sha256:${sha256(token).toString('hex').slice(0, 12)}`;
}

function sha256(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}
