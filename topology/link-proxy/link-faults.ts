/**
 * The faults a link proxy injects, switchable at run time. All of them at once are legal:
 * latency and a bandwidth cap shape what flows; blackhole stops the flow; reset kills every
 * connection (and every new one) while it is on.
 */
import { z } from 'zod';

const MAX_LATENCY_MS = 60_000;
const MIN_BANDWIDTH = 1_024;
const MAX_BANDWIDTH = 10 * 1024 * 1024 * 1024;

export const LinkFaultsSchema = z.strictObject({
  /** Added to each direction separately: a round trip grows by twice this. */
  latencyMs: z.number({ error: 'expected a one-way latency in milliseconds (integer 0-60000)' }).int('expected an integer number of milliseconds').min(0, 'expected a latency ≥ 0 ms').max(MAX_LATENCY_MS, `expected a latency ≤ ${MAX_LATENCY_MS} ms`),
  /** Connections are accepted and kept open, but no byte is forwarded in either direction. */
  blackhole: z.boolean({ error: 'expected true or false' }),
  /** Existing connections get a TCP RST; new ones are accepted and reset at once. */
  reset: z.boolean({ error: 'expected true or false' }),
  /** Bytes per second in each direction, across all of the link's connections; null for no cap. */
  bandwidthBytesPerSec: z
    .number({ error: `expected bytes per second (integer ${MIN_BANDWIDTH}-${MAX_BANDWIDTH}) or null for no cap` })
    .int('expected an integer number of bytes per second')
    .min(MIN_BANDWIDTH, `expected at least ${MIN_BANDWIDTH} bytes/s (or null for no cap)`)
    .max(MAX_BANDWIDTH, `expected at most ${MAX_BANDWIDTH} bytes/s`)
    .nullable(),
});

const MAX_EXPIRY_MS = 24 * 3600 * 1000;

/**
 * A change: only the named faults change; `reason` is logged with it. `expiresInMs` makes the
 * proxy itself return to the baseline that long after the change (unless another change comes
 * first): a fault outlives neither a controller that died nor an answer that was lost.
 */
export const LinkFaultsChangeSchema = LinkFaultsSchema.partial().extend({
  reason: z.string().min(1).max(500).optional(),
  expiresInMs: z.number({ error: `expected milliseconds until the link heals itself (integer 1-${MAX_EXPIRY_MS})` }).int('expected an integer number of milliseconds').min(1, 'expected at least 1 ms').max(MAX_EXPIRY_MS, `expected at most ${MAX_EXPIRY_MS} ms (24 h)`).optional(),
});

export type LinkFaults = z.output<typeof LinkFaultsSchema>;
export type LinkFaultsChange = z.output<typeof LinkFaultsChangeSchema>;

export function noFaults(latencyMs = 0): LinkFaults {
  return { latencyMs, blackhole: false, reset: false, bandwidthBytesPerSec: null };
}

/** One line for logs and the CLI, e.g. "latency 38 ms, blackhole". */
export function describeFaults(f: Readonly<LinkFaults>): string {
  const parts = [`latency ${f.latencyMs} ms`];
  if (f.bandwidthBytesPerSec !== null) parts.push(`bandwidth ${f.bandwidthBytesPerSec} B/s`);
  if (f.blackhole) parts.push('blackhole');
  if (f.reset) parts.push('reset');
  return parts.join(', ');
}
