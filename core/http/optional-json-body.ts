/**
 * Optional JSON bodies: a request with no body, or with an empty one sent as
 * `Content-Type: application/json` (what `curl -X POST -H 'Content-Type: application/json'`
 * sends), reads as `{}` on routes that declare a body schema, so the schema still applies and
 * handlers never see undefined. Non-empty bodies go through fastify's own JSON parser
 * (prototype-poisoning checks included).
 */
import type { FastifyInstance } from 'fastify';

export function optionalJsonBody(app: FastifyInstance): void {
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.trim() === '') done(null, {});
    else void parseJson(request, text, done);
  });
  app.addHook('preValidation', (request, _reply, done) => {
    if (request.body === undefined && request.routeOptions.schema?.body !== undefined) request.body = {};
    done();
  });
}
