/**
 * Environment overrides: GEOREPLICA__REGIONS__US_EAST__PORTS__INGEST=12010 sets
 * regions.us-east.ports.ingest. Segments match existing keys ignoring case, "-" and "_",
 * so shells that forbid dashes in names still reach every key. Values are parsed as YAML
 * scalars or flow collections ("12010" is a number, "[a:1, b:2]" a list).
 */
import { parse as parseYaml } from 'yaml';
import type { ConfigProblem } from './problems.ts';

export const ENV_PREFIX = 'GEOREPLICA__';

const norm = (s: string): string => s.toLowerCase().replace(/[-_]/g, '');

export interface EnvOverrideResult {
  doc: unknown;
  problems: ConfigProblem[];
  /** Config paths that were set, e.g. "regions.us-east.ports.ingest". */
  applied: string[];
  /** The variable that set each applied path, so a bad value can be traced to the environment rather than the file. */
  setBy: Map<string, string>;
}

export function applyEnvOverrides(doc: unknown, env: Readonly<Record<string, string | undefined>>): EnvOverrideResult {
  const problems: ConfigProblem[] = [];
  const applied: string[] = [];
  const setBy = new Map<string, string>();
  const root: unknown = structuredClone(doc ?? {});
  const names = Object.keys(env).filter((k) => k.startsWith(ENV_PREFIX)).sort();
  for (const name of names) {
    const raw = env[name] ?? '';
    const segments = name.slice(ENV_PREFIX.length).split('__').filter((s) => s !== '');
    let node = root;
    const path: string[] = [];
    let ok = segments.length > 0;
    for (let i = 0; i < segments.length && ok; i++) {
      const seg = segments[i] as string;
      if (node === null || typeof node !== 'object' || Array.isArray(node)) {
        problems.push({ path: `env ${name}`, value: raw, expected: `expected ${path.join('.') || '(root)'} to be a mapping that "${seg}" can be set in` });
        ok = false;
        break;
      }
      const obj = node as Record<string, unknown>;
      const matches = Object.keys(obj).filter((k) => norm(k) === norm(seg));
      const key = matches[0];
      if (matches.length > 1) {
        // "us-east" and "useast" are both valid region names; guessing would silently change the wrong one.
        problems.push({ path: `env ${name}`, value: raw, expected: `expected "${seg}" to name one key under ${path.join('.') || '(root)'}; it matches ${matches.map((m) => `"${m}"`).join(' and ')}; set this value in the file instead` });
        ok = false;
        break;
      }
      if (key === undefined) {
        const known = Object.keys(obj).join(', ') || '(none)';
        problems.push({ path: `env ${name}`, value: raw, expected: `expected an existing key under ${path.join('.') || '(root)'} (one of: ${known}); "${seg}" matches none` });
        ok = false;
        break;
      }
      path.push(key);
      if (i === segments.length - 1) {
        obj[key] = parseValue(raw);
        applied.push(path.join('.'));
        setBy.set(path.join('.'), name);
      } else {
        node = obj[key];
      }
    }
    if (segments.length === 0) problems.push({ path: `env ${name}`, value: raw, expected: `expected a key path after ${ENV_PREFIX}, e.g. ${ENV_PREFIX}REGIONS__US_EAST__PORTS__INGEST` });
  }
  return { doc: root, problems, applied, setBy };
}

function parseValue(raw: string): unknown {
  try {
    return parseYaml(raw) as unknown;
  } catch {
    return raw;
  }
}
