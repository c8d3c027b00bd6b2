/** A single thing wrong with a configuration: where, what was there, and what would be right. */
export interface ConfigProblem {
  readonly path: string;
  readonly value: unknown;
  readonly expected: string;
}

export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out === '' ? String(seg) : `.${String(seg)}`;
  }
  return out === '' ? '(root)' : out;
}

export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing (the key is missing)';
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === null || typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  // YAML yields no functions or symbols; name the type rather than print a function's source.
  if (typeof value !== 'object') return `a ${typeof value}`;
  const json = JSON.stringify(value);
  return json.length > 60 ? `${json.slice(0, 57)}...` : json;
}

export function formatProblems(source: string, problems: readonly ConfigProblem[]): string {
  const head = `Invalid configuration in ${source} (${problems.length} problem${problems.length === 1 ? '' : 's'}):`;
  const lines = problems.map((p) => `  - ${p.path}: got ${describeValue(p.value)}; ${p.expected}`);
  return [head, ...lines].join('\n');
}
