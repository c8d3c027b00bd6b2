/** Finds what keys a strict object accepts at a path, to tell an operator what they probably meant. */
import type { z } from 'zod';

type AnySchema = z.core.$ZodType;

function unwrap(schema: AnySchema): AnySchema {
  let s = schema;
  for (;;) {
    const def = s._zod.def as { type: string; innerType?: AnySchema };
    if ((def.type === 'default' || def.type === 'optional' || def.type === 'prefault' || def.type === 'nullable') && def.innerType) s = def.innerType;
    else return s;
  }
}

export function allowedKeysAt(root: AnySchema, path: readonly PropertyKey[]): string[] {
  let s = unwrap(root);
  for (const seg of path) {
    const def = s._zod.def as { type: string; shape?: Record<string, AnySchema>; valueType?: AnySchema; element?: AnySchema };
    if (def.type === 'object' && def.shape) {
      const next = def.shape[String(seg)];
      if (!next) return [];
      s = unwrap(next);
    } else if (def.type === 'record' && def.valueType) {
      s = unwrap(def.valueType);
    } else if (def.type === 'array' && def.element) {
      s = unwrap(def.element);
    } else {
      return [];
    }
  }
  const def = s._zod.def as { type: string; shape?: Record<string, AnySchema> };
  return def.type === 'object' && def.shape ? Object.keys(def.shape) : [];
}

/** The allowed key nearest to a misspelling, if it is close enough to be a likely typo. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = levenshtein(word.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) {
      bestDistance = d;
      best = c;
    }
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

function levenshtein(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0] as number;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j] as number;
      row[j] = Math.min((row[j] as number) + 1, (row[j - 1] as number) + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length] as number;
}
