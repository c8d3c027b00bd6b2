/**
 * Variants of a deployment document for the local runtime, applied before validation:
 * more brokers in a region (3 for chaos tests) and shifted ports (so the test suite's
 * regions never collide with a developer's `georeplica up`).
 */
import { splitHostPort } from '../../config/cross-checks.ts';

type Doc = Record<string, unknown>;

function regionsOf(doc: Doc): Record<string, Doc> {
  return (doc['regions'] ?? {}) as Record<string, Doc>;
}

/** Gives `region` `count` brokers: the first broker's port p, then p+2, p+4, ... (controllers on +1). */
export function withBrokers(doc: Doc, region: string, count: number): Doc {
  const out = structuredClone(doc);
  const r = regionsOf(out)[region];
  if (!r) return out;
  const kafka = r['kafka'] as { bootstrap: string[] };
  const [host, port] = splitHostPort(kafka.bootstrap[0] ?? '127.0.0.1:0');
  kafka.bootstrap = Array.from({ length: count }, (_, i) => `${host}:${port + 2 * i}`);
  return out;
}

/** Adds `offset` to every local port: service ports, broker ports and search URLs. */
export function withPortOffset(doc: Doc, offset: number): Doc {
  const out = structuredClone(doc);
  for (const r of Object.values(regionsOf(out))) {
    const ports = r['ports'] as Record<string, number>;
    for (const k of Object.keys(ports)) ports[k] = (ports[k] as number) + offset;
    const kafka = r['kafka'] as { bootstrap: string[] };
    kafka.bootstrap = kafka.bootstrap.map((a) => {
      const [h, p] = splitHostPort(a);
      return `${h}:${p + offset}`;
    });
    const search = r['search'] as { url: string };
    const url = new URL(search.url);
    url.port = String(Number(url.port) + offset);
    search.url = url.toString().replace(/\/$/, '');
  }
  return out;
}

export function withStateDir(doc: Doc, stateDir: string): Doc {
  const out = structuredClone(doc);
  out['runtime'] = { ...((out['runtime'] ?? {}) as Doc), stateDir };
  return out;
}
