/**
 * Validation at the edge for inputs other than the deployment file (which config/load.ts
 * handles): a strict zod schema, every problem reported at once as "path: got value; expected
 * rule", and the result deep-frozen. Used by the link proxies' control API and chaos scenarios.
 */
import type { z } from 'zod';
import { describeValue, formatPath } from '../config/problems.ts';
import type { ConfigProblem } from '../config/problems.ts';
import { allowedKeysAt, closest } from '../config/schema-walk.ts';
import { GeoError } from './errors.ts';
import { deepFreeze } from './freeze.ts';

/** Parses `input` with `schema`; throws INVALID_ARGUMENT naming `what` and every problem. */
export function parseStrict<S extends z.ZodType>(schema: S, input: unknown, what: string): Readonly<z.output<S>> {
  const parsed = schema.safeParse(input, { reportInput: true });
  if (parsed.success) return deepFreeze(parsed.data as object) as Readonly<z.output<S>>;
  const problems = parsed.error.issues.flatMap((issue) => problemsOf(schema, issue));
  const lines = problems.map((p) => `  - ${p.path}: got ${describeValue(p.value)}; ${p.expected}`);
  throw new GeoError('INVALID_ARGUMENT', [`Invalid ${what} (${problems.length} problem${problems.length === 1 ? '' : 's'}):`, ...lines].join('\n'), { details: { problems } });
}

function problemsOf(schema: z.ZodType, issue: z.core.$ZodIssue): ConfigProblem[] {
  if (issue.code === 'unrecognized_keys') {
    const allowed = allowedKeysAt(schema, issue.path);
    return issue.keys.map((key) => {
      const hint = closest(key, allowed);
      const expected = `expected no such key${hint ? ` (did you mean "${hint}"?)` : ''}${allowed.length > 0 ? `; allowed keys here: ${allowed.join(', ')}` : ''}`;
      return { path: formatPath([...issue.path, key]), value: key, expected };
    });
  }
  return [{ path: formatPath(issue.path), value: issue.input, expected: issue.message.startsWith('expected') ? issue.message : `expected ${issue.message}` }];
}
