/**
 * `georeplica link <source> <target> [--blackhole] [--reset] [--latency MS] [--bandwidth SIZE]
 * [--heal] [--clear] [--for DURATION]`: changes the faults of the link proxy through which <target>'s
 * replicator reaches <source>'s brokers, and prints the link's faults after the change (with no
 * option, just prints them). Several options combine into one change.
 */
import { parseDuration } from '../chaos/duration.ts';
import { GeoError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import { describeFaults } from '../topology/link-proxy/link-faults.ts';
import type { LinkFaultsChange } from '../topology/link-proxy/link-faults.ts';
import { LocalRuntime } from '../topology/runtime/local-runtime.ts';
import { resolveDeployment } from './runtime-commands.ts';
import type { CommonFlags } from './runtime-commands.ts';

export interface LinkFlags extends CommonFlags {
  blackhole?: boolean | undefined;
  reset?: boolean | undefined;
  latency?: string | undefined;
  bandwidth?: string | undefined;
  heal?: boolean | undefined;
  clear?: boolean | undefined;
  /** The proxy heals the link by itself this long after the change ("90s", "5m"). */
  for?: string | undefined;
}

export async function linkCommand(positionals: readonly string[], flags: LinkFlags, log: Logger, out: (line: string) => void = console.log): Promise<number> {
  const [source, target, extra] = positionals;
  if (!source || !target || extra !== undefined) throw new GeoError('INVALID_ARGUMENT', 'link needs a source and a target region, e.g. "georeplica link us-east eu-west --blackhole" (the link eu-west\'s replicator pulls us-east through).');
  const change = changeOf(flags);
  const r = resolveDeployment(flags);
  const runtime = new LocalRuntime({ deployment: r.deployment, ...(r.stateDir ? { stateDir: r.stateDir } : {}), log });
  const faults = await runtime.link(source, target, change);
  out(flags.json ? JSON.stringify({ link: `${source}->${target}`, faults }) : `${source}->${target}: ${describeFaults(faults)}`);
  return 0;
}

/** The change the options ask for; undefined when none is given (just show the link). */
export function changeOf(flags: LinkFlags): Readonly<LinkFaultsChange> | 'clear' | undefined {
  if (flags.clear) {
    if (flags.blackhole || flags.reset || flags.heal || flags.latency !== undefined || flags.bandwidth !== undefined || flags.for !== undefined) throw new GeoError('INVALID_ARGUMENT', '--clear goes back to the baseline and cannot be combined with other link options; run two commands.');
    return 'clear';
  }
  const change: LinkFaultsChange = {};
  if (flags.heal) {
    if (flags.blackhole || flags.reset) throw new GeoError('INVALID_ARGUMENT', '--heal lifts --blackhole and --reset; give either, not both.');
    change.blackhole = false;
    change.reset = false;
  }
  if (flags.blackhole) change.blackhole = true;
  if (flags.reset) change.reset = true;
  if (flags.latency !== undefined) change.latencyMs = parseLatency(flags.latency);
  if (flags.bandwidth !== undefined) change.bandwidthBytesPerSec = parseBandwidth(flags.bandwidth);
  if (Object.keys(change).length === 0) {
    if (flags.for !== undefined) throw new GeoError('INVALID_ARGUMENT', '--for says when a change heals itself; give it with a change, e.g. --blackhole --for 60s.');
    return undefined;
  }
  if (flags.for !== undefined) change.expiresInMs = parseFor(flags.for);
  return change;
}

function parseFor(text: string): number {
  const ms = parseDuration(text);
  if (ms === undefined || ms < 1 || ms > 86_400_000) throw new GeoError('INVALID_ARGUMENT', `--for: got "${text}"; expected a duration from 1ms to 24h after which the link heals itself, e.g. --for 90s or --for 5m.`);
  return ms;
}

function parseLatency(text: string): number {
  const ms = Number(text);
  if (!/^\d+$/.test(text) || ms > 60_000) throw new GeoError('INVALID_ARGUMENT', `--latency: got "${text}"; expected a one-way latency in milliseconds, an integer 0-60000 (e.g. --latency 200).`);
  return ms;
}

const UNITS: Readonly<Record<string, number>> = { '': 1, b: 1, kb: 1e3, mb: 1e6, gb: 1e9, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3 };

/** "1mb" (10^6 bytes/s), "512kib", "250000", or "none" to lift the cap. */
export function parseBandwidth(text: string): number | null {
  if (text.toLowerCase() === 'none') return null;
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)(?:\/s)?$/i.exec(text.trim());
  const unit = m ? UNITS[(m[2] ?? '').toLowerCase()] : undefined;
  if (!m || unit === undefined) throw new GeoError('INVALID_ARGUMENT', `--bandwidth: got "${text}"; expected bytes per second with an optional unit (kb, mb, gb = 10^3, 10^6, 10^9; kib, mib, gib = 2^10, 2^20, 2^30), e.g. --bandwidth 1mb, or "none" to lift the cap.`);
  const bytes = Math.round(Number(m[1]) * unit);
  if (bytes < 1_024) throw new GeoError('INVALID_ARGUMENT', `--bandwidth: got "${text}" (${bytes} bytes/s); expected at least 1024 bytes/s.`);
  return bytes;
}
