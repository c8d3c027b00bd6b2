/**
 * Summarises a V8 CPU profile (`node --cpu-prof`): the share of samples per function, self and
 * inclusive, optionally only within a window on the monotonic clock (the profile's own clock;
 * `--trace` runs of bench:replicator report the copy window on it as copyWindowMonotonicUs).
 *
 *   npx tsx bench/support/cpu-profile.ts <file.cpuprofile> [--from-us N --to-us N] [--top N]
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  samples: number;
  self: Array<[string, number]>;
  inclusive: Array<[string, number]>;
}

export function summarizeProfile(p: CpuProfile, window: { fromUs?: number; toUs?: number } = {}): ProfileSummary {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const label = (n: ProfileNode): string => `${n.callFrame.functionName || '(anonymous)'} ${basename(n.callFrame.url) || ''}:${n.callFrame.lineNumber + 1}`.trim();
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let t = p.startTime;
  let count = 0;
  p.samples.forEach((id, i) => {
    t += p.timeDeltas[i] ?? 0;
    if ((window.fromUs !== undefined && t < window.fromUs) || (window.toUs !== undefined && t > window.toUs)) return;
    count++;
    const leaf = byId.get(id);
    if (!leaf) return;
    self.set(label(leaf), (self.get(label(leaf)) ?? 0) + 1);
    const seen = new Set<string>();
    for (let x: number | undefined = id; x !== undefined; x = parent.get(x)) {
      const node = byId.get(x);
      if (!node) break;
      const l = label(node);
      if (seen.has(l)) continue;
      seen.add(l);
      inclusive.set(l, (inclusive.get(l) ?? 0) + 1);
    }
  });
  const share = (m: Map<string, number>): Array<[string, number]> => [...m.entries()].map(([k, v]): [string, number] => [k, count > 0 ? v / count : 0]).sort((a, b) => b[1] - a[1]);
  return { samples: count, self: share(self), inclusive: share(inclusive) };
}

function main(): void {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { 'from-us': { type: 'string' }, 'to-us': { type: 'string' }, top: { type: 'string' } } });
  const file = positionals[0];
  if (!file) {
    console.error('usage: npx tsx bench/support/cpu-profile.ts <file.cpuprofile> [--from-us N --to-us N] [--top N]');
    process.exit(2);
  }
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const s = summarizeProfile(profile, { ...(values['from-us'] ? { fromUs: Number(values['from-us']) } : {}), ...(values['to-us'] ? { toUs: Number(values['to-us']) } : {}) });
  const top = Number(values.top ?? 25);
  const pct = (x: number): string => `${(x * 100).toFixed(1).padStart(5)}%`;
  console.log(`${s.samples} samples (profile ${profile.startTime}..${profile.endTime} µs)`);
  console.log('self:');
  for (const [k, v] of s.self.slice(0, top)) console.log(`  ${pct(v)} ${k}`);
  console.log('inclusive:');
  for (const [k, v] of s.inclusive.slice(0, top)) console.log(`  ${pct(v)} ${k}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main();
