/**
 * A regional search endpoint that follows the search contract (services/search) but answers
 * from memory: the benchmark's baseline, so that router-minus-direct is the router's own cost
 * and not OpenSearch's noise. `--region R --port P --sources a,b,c`.
 */
import { parseArgs } from 'node:util';
import { fastify } from 'fastify';
import type { FastifyReply } from 'fastify';

const { values } = parseArgs({ options: { region: { type: 'string' }, port: { type: 'string' }, sources: { type: 'string' } } });
const region = values.region ?? 'us-east';
const sources = (values.sources ?? region).split(',');
const freshness = Object.fromEntries(sources.map((s) => [s, s === region ? 0 : 120]));
// About the size of a 10-hit answer of the real endpoint.
const body = JSON.stringify({
  region,
  took: 2,
  total: 10,
  hits: Array.from({ length: 10 }, (_, i) => ({ id: `doc-${i}`, version: String(1_000_000 + i), origin: region, score: 1 - i / 20, document: { title: `Kettle model ${i}`, price: 20 + i, tags: ['kitchen', 'steel'] } })),
  freshness,
  maxFreshnessMs: 120,
});
const health = JSON.stringify({ region, status: 'ok', search: { ok: true, status: 'green' }, kafka: { ok: true }, indexer: { ok: true }, freshness, maxFreshnessMs: 120 });

const app = fastify();
const search = (_request: unknown, reply: FastifyReply) => reply.header('content-type', 'application/json; charset=utf-8').header('x-served-by-region', region).header('x-freshness-ms', '120').send(body);
app.get('/search', search);
app.post('/search', search);
app.get('/health', (_request, reply) => reply.header('content-type', 'application/json; charset=utf-8').send(health));
await app.listen({ host: '127.0.0.1', port: Number(values.port ?? 0) });
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
