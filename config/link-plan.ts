/**
 * Where the link proxies between regions listen, derived from the deployment alone so that the
 * runtime (broker listeners, proxy processes), the replicator (which address it dials for a
 * remote region) and the port cross-checks agree without another list to keep in sync.
 *
 * For the ordered pair S->T (region T's replicator pulls from S), broker i of S gets an extra
 * listener named FROM_<T> on `port(i) + portOffset + 20 × index(T)`; its advertised address is
 * the proxy's port for that broker, 100 higher. Metadata fetched through the proxy then names the
 * proxy again, so every connection T's clients open to S crosses it. The control API of proxy
 * S->T listens on its first broker port + 1 (broker ports are even, so that slot is free).
 */
import type { Deployment } from './schema.ts';

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

export interface LinkBroker {
  /** The extra listener on the source broker that only this link's proxy connects to. */
  readonly listener: HostPort;
  /** Where the target region's clients connect; advertised by the listener above. */
  readonly proxy: HostPort;
}

export interface LinkPlan {
  /** "us-east->eu-west": traffic of eu-west's clients to us-east's brokers. */
  readonly name: string;
  readonly source: string;
  readonly target: string;
  /** Kafka listener name on the source's brokers, e.g. FROM_EU_WEST. */
  readonly listenerName: string;
  /** One per source broker, in bootstrap order. */
  readonly brokers: readonly LinkBroker[];
  readonly control: HostPort;
  /** The one-way latency the proxy adds in each direction until told otherwise. */
  readonly baselineLatencyMs: number;
}

/** Ports between the listeners of one link and those of the next target region. */
const TARGET_STRIDE = 20;
const PROXY_SHIFT = 100;

export function linkName(source: string, target: string): string {
  return `${source}->${target}`;
}

export function listenerNameFor(target: string): string {
  return `FROM_${target.toUpperCase().replace(/-/g, '_')}`;
}

/** Every ordered pair's plan when link proxies are enabled; none otherwise. */
export function linkPlans(d: Readonly<Deployment>): LinkPlan[] {
  if (!d.runtime.linkProxies.enabled) return [];
  const names = Object.keys(d.regions);
  const out: LinkPlan[] = [];
  for (const source of names) for (const target of names) if (source !== target) out.push(planOf(d, names, source, target));
  return out;
}

/** The plan of source->target, or undefined when link proxies are off. */
export function linkPlan(d: Readonly<Deployment>, source: string, target: string): LinkPlan | undefined {
  return linkPlans(d).find((p) => p.source === source && p.target === target);
}

/**
 * The bootstrap a client in `target` uses for `source`'s Kafka: the link proxy's addresses when
 * link proxies are on, the brokers themselves otherwise.
 */
export function remoteBootstrap(d: Readonly<Deployment>, source: string, target: string): readonly string[] {
  const plan = source === target ? undefined : linkPlan(d, source, target);
  if (!plan) return d.regions[source]?.kafka.bootstrap ?? [];
  return plan.brokers.map((b) => `${b.proxy.host}:${b.proxy.port}`);
}

/** The one-way latency configured between two regions (each pair is given once, in either order). */
export function configuredLatencyMs(d: Readonly<Deployment>, a: string, b: string): number | undefined {
  return d.latencies[a]?.[b] ?? d.latencies[b]?.[a];
}

function planOf(d: Readonly<Deployment>, names: readonly string[], source: string, target: string): LinkPlan {
  const shift = d.runtime.linkProxies.portOffset + TARGET_STRIDE * names.indexOf(target);
  const brokers = (d.regions[source]?.kafka.bootstrap ?? []).map((addr) => {
    const { host, port } = splitAddress(addr);
    return { listener: { host, port: port + shift }, proxy: { host, port: port + shift + PROXY_SHIFT } };
  });
  const first = brokers[0]?.proxy ?? { host: '127.0.0.1', port: 0 };
  return {
    name: linkName(source, target),
    source,
    target,
    listenerName: listenerNameFor(target),
    brokers,
    control: { host: first.host, port: first.port + 1 },
    baselineLatencyMs: d.runtime.linkProxies.latency === 'topology' ? (configuredLatencyMs(d, source, target) ?? 0) : 0,
  };
}

// Kept local rather than imported from cross-checks.ts, which imports this module.
function splitAddress(addr: string): HostPort {
  const i = addr.lastIndexOf(':');
  return { host: addr.slice(0, i), port: Number(addr.slice(i + 1)) };
}
