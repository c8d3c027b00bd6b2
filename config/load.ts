/**
 * Loads the deployment: YAML file, then environment overrides, then the schema, then the
 * cross-checks. Every problem is collected and reported at once; the result is deep-frozen.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { GeoError } from '../core/errors.ts';
import { deepFreeze } from '../core/freeze.ts';
import { crossCheck } from './cross-checks.ts';
import { applyEnvOverrides } from './env-overrides.ts';
import { formatPath, formatProblems } from './problems.ts';
import type { ConfigProblem } from './problems.ts';
import { DeploymentSchema } from './schema.ts';
import type { Deployment } from './schema.ts';
import { allowedKeysAt, closest } from './schema-walk.ts';

export const DEFAULT_CONFIG_PATH = 'topology/regions.local.yaml';

export interface LoadOptions {
  /** Path of the YAML file; defaults to $GEOREPLICA_CONFIG, then topology/regions.local.yaml. */
  path?: string;
  env?: Readonly<Record<string, string | undefined>>;
}

export function loadDeployment(options: LoadOptions = {}): Readonly<Deployment> {
  const env = options.env ?? process.env;
  const path = resolve(options.path ?? env['GEOREPLICA_CONFIG'] ?? DEFAULT_CONFIG_PATH);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new GeoError('CONFIG_NOT_FOUND', `Cannot read the configuration file ${path}. Pass --config <file> or set GEOREPLICA_CONFIG.`, { cause, details: { path } });
  }
  return parseDeployment(text, path, env);
}

/** Validates YAML text as a deployment. `source` names the file in messages. */
export function parseDeployment(text: string, source: string, env: Readonly<Record<string, string | undefined>> = {}): Readonly<Deployment> {
  const yaml = parseDocument(text, { prettyErrors: true });
  if (yaml.errors.length > 0) {
    const lines = yaml.errors.map((e) => `  - ${e.message.split('\n')[0] ?? e.message}`);
    throw new GeoError('CONFIG_UNREADABLE', [`Cannot parse ${source} as YAML:`, ...lines].join('\n'), { details: { source } });
  }
  return validateDeployment(yaml.toJS() as unknown, source, env);
}

export function validateDeployment(doc: unknown, source: string, env: Readonly<Record<string, string | undefined>> = {}): Readonly<Deployment> {
  const overridden = applyEnvOverrides(doc, env);
  const problems: ConfigProblem[] = [...overridden.problems];
  const parsed = DeploymentSchema.safeParse(overridden.doc, { reportInput: true, error: plainMessage });
  if (!parsed.success) {
    problems.push(...parsed.error.issues.flatMap(toProblems).map((p) => traceToEnv(p, overridden.setBy)));
  } else {
    problems.push(...crossCheck(parsed.data).map((p) => traceToEnv(p, overridden.setBy)));
  }
  if (problems.length > 0 || !parsed.success) {
    throw new GeoError('CONFIG_INVALID', formatProblems(source, problems), { details: { source, problems } });
  }
  return deepFreeze(parsed.data);
}

function toProblems(issue: z.core.$ZodIssue): ConfigProblem[] {
  if (issue.code === 'unrecognized_keys') {
    const allowed = allowedKeysAt(DeploymentSchema, issue.path);
    return issue.keys.map((key) => {
      const hint = closest(key, allowed);
      const expected = `expected no such key${hint ? ` (did you mean "${hint}"?)` : ''}; allowed keys here: ${allowed.join(', ')}`;
      return { path: formatPath([...issue.path, key]), value: key, expected };
    });
  }
  if (issue.code === 'invalid_key') {
    return [{ path: formatPath(issue.path), value: issue.input, expected: issue.issues[0]?.message ?? issue.message }];
  }
  // A missing key needs no extra words: describeValue already says "got nothing (the key is missing)".
  return [{ path: formatPath(issue.path), value: issue.input, expected: issue.message }];
}

const TYPE_WORDS: Readonly<Record<string, string>> = {
  string: 'a string',
  number: 'a number',
  int: 'an integer',
  boolean: 'true or false',
  array: 'a list',
  object: 'a mapping',
  record: 'a mapping',
};

/**
 * Wording for the checks the schema gives no message of its own, in the same "expected ..." form
 * as the rest: Zod's defaults ("Invalid input: expected record, received array") use its own jargon.
 */
function plainMessage(issue: z.core.$ZodRawIssue): string | undefined {
  switch (issue.code) {
    case 'invalid_type':
      return `expected ${TYPE_WORDS[issue.expected] ?? issue.expected}`;
    case 'too_small':
      return `expected ${bound(issue.origin, issue.inclusive === false ? '>' : '≥', issue.minimum)}`;
    case 'too_big':
      return `expected ${bound(issue.origin, issue.inclusive === false ? '<' : '≤', issue.maximum)}`;
    default:
      return undefined;
  }
}

function bound(origin: string, op: string, limit: number | bigint): string {
  if (origin === 'string') return op === '≥' && Number(limit) === 1 ? 'a non-empty string' : `a string of length ${op} ${limit}`;
  if (origin === 'array' || origin === 'set') return `a list of length ${op} ${limit}`;
  return `a number ${op} ${limit}`;
}

/** A value that came from the environment is named by its variable, or the operator would search the file for it in vain. */
function traceToEnv(problem: ConfigProblem, setBy: ReadonlyMap<string, string>): ConfigProblem {
  for (const [path, variable] of setBy) {
    const rest = problem.path.slice(path.length);
    if (problem.path.startsWith(path) && (rest === '' || rest.startsWith('.') || rest.startsWith('[') || rest.startsWith(' ('))) {
      return { ...problem, path: `${problem.path} (from ${variable})` };
    }
  }
  return problem;
}
