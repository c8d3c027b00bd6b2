/**
 * Checks that need the whole deployment at once: references between regions, latency
 * coverage, client mappings claimed twice and local ports used twice.
 */
import { linkPlans } from './link-plan.ts';
import type { ConfigProblem } from './problems.ts';
import type { Deployment } from './schema.ts';

const LOCAL_HOSTS = new Set(['127.0.0.1', 'localhost', '0.0.0.0', '::1']);

export function crossCheck(d: Deployment): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const names = Object.keys(d.regions);
  const known = new Set(names);
  const list = names.length > 0 ? names.join(', ') : '(none)';

  if (names.length === 0) {
    problems.push({ path: 'regions', value: d.regions, expected: 'expected at least one region, e.g. regions.us-east' });
  }
  if (!known.has(d.defaultRegion)) {
    problems.push({ path: 'defaultRegion', value: d.defaultRegion, expected: `expected one of the defined regions: ${list}` });
  }

  const pairs = new Map<string, string>();
  for (const [from, row] of Object.entries(d.latencies)) {
    if (!known.has(from)) {
      problems.push({ path: `latencies.${from}`, value: from, expected: `expected a defined region (${list}); define regions.${from} or remove this entry` });
      continue;
    }
    for (const to of Object.keys(row)) {
      const path = `latencies.${from}.${to}`;
      if (!known.has(to)) {
        problems.push({ path, value: to, expected: `expected a defined region (${list}); define regions.${to} or remove this entry` });
      } else if (to === from) {
        problems.push({ path, value: row[to], expected: 'expected no latency from a region to itself (it is 0 by definition)' });
      } else {
        const key = [from, to].sort().join('|');
        const previous = pairs.get(key);
        if (previous !== undefined) {
          problems.push({ path, value: row[to], expected: `expected each pair once; this pair is already given at ${previous}` });
        } else {
          pairs.set(key, path);
        }
      }
    }
  }
  for (let i = 0; i < names.length; i++) {
    for (let j = i + 1; j < names.length; j++) {
      const a = names[i] as string;
      const b = names[j] as string;
      if (known.has(a) && known.has(b) && !pairs.has([a, b].sort().join('|'))) {
        problems.push({ path: `latencies.${a}.${b}`, value: undefined, expected: `expected the one-way latency in ms between ${a} and ${b}` });
      }
    }
  }

  checkClaimedOnce(d, 'networks', problems);
  checkClaimedOnce(d, 'countries', problems);
  checkPorts(d, problems);
  return problems;
}

function checkClaimedOnce(d: Deployment, kind: 'networks' | 'countries', problems: ConfigProblem[]): void {
  const owner = new Map<string, string>();
  for (const [region, cfg] of Object.entries(d.regions)) {
    cfg.clients[kind].forEach((value, i) => {
      const key = value.toLowerCase();
      const path = `regions.${region}.clients.${kind}[${i}]`;
      const first = owner.get(key);
      if (first !== undefined) problems.push({ path, value, expected: `expected each client ${kind === 'networks' ? 'network' : 'country'} in one region only; it is also at ${first}` });
      else owner.set(key, path);
    });
  }
}

/** Every port the local machine binds must be unique: service ports, brokers (+1 controller), search (+100 transport). */
export function localPorts(d: Deployment): Array<{ path: string; port: number }> {
  const out: Array<{ path: string; port: number }> = [];
  for (const [region, cfg] of Object.entries(d.regions)) {
    for (const [service, port] of Object.entries(cfg.ports)) out.push({ path: `regions.${region}.ports.${service}`, port });
    cfg.kafka.bootstrap.forEach((addr, i) => {
      const [host, p] = splitHostPort(addr);
      if (!LOCAL_HOSTS.has(host)) return;
      out.push({ path: `regions.${region}.kafka.bootstrap[${i}]`, port: p });
      out.push({ path: `regions.${region}.kafka.bootstrap[${i}] (controller, port + 1)`, port: p + 1 });
    });
    const url = new URL(cfg.search.url);
    if (LOCAL_HOSTS.has(url.hostname.replace(/^\[|\]$/g, ''))) {
      const p = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
      out.push({ path: `regions.${region}.search.url`, port: p });
      out.push({ path: `regions.${region}.search.url (transport, port + 100)`, port: p + 100 });
    }
  }
  for (const plan of linkPlans(d)) {
    plan.brokers.forEach((b, i) => {
      out.push({ path: `runtime.linkProxies (${plan.listenerName} listener of regions.${plan.source}.kafka.bootstrap[${i}])`, port: b.listener.port });
      out.push({ path: `runtime.linkProxies (proxy ${plan.name} for regions.${plan.source}.kafka.bootstrap[${i}])`, port: b.proxy.port });
    });
    out.push({ path: `runtime.linkProxies (control API of proxy ${plan.name})`, port: plan.control.port });
  }
  return out;
}

function checkPorts(d: Deployment, problems: ConfigProblem[]): void {
  const seen = new Map<number, string>();
  for (const { path, port } of localPorts(d)) {
    const first = seen.get(port);
    if (first !== undefined) problems.push({ path, value: port, expected: `expected a port not used elsewhere; ${port} is already used by ${first}` });
    else seen.set(port, path);
  }
}

export function splitHostPort(addr: string): [string, number] {
  const i = addr.lastIndexOf(':');
  return [addr.slice(0, i), Number(addr.slice(i + 1))];
}
