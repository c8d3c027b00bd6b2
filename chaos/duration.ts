/** Durations in scenario files: "500ms", "20s", "2m", "1m30s". */
import { z } from 'zod';

const PART = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;
const WHOLE = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h))+$/;
const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

/** Milliseconds of a duration text, or undefined when it is not one. */
export function parseDuration(text: string): number | undefined {
  const t = text.trim();
  if (!WHOLE.test(t)) return undefined;
  let ms = 0;
  for (const m of t.matchAll(PART)) ms += Number(m[1]) * (UNIT_MS[m[2] ?? 's'] ?? 0);
  return Math.round(ms);
}

/** "20s" → 20000; at most `maxMs`. */
export function durationSchema(maxMs: number): z.ZodType<number, string> {
  return z
    .string({ error: 'expected a duration such as "500ms", "20s", "2m" or "1m30s"' })
    .transform((text, ctx) => {
      const ms = parseDuration(text);
      if (ms === undefined) {
        ctx.addIssue({ code: 'custom', message: 'expected a duration such as "500ms", "20s", "2m" or "1m30s"' });
        return z.NEVER;
      }
      if (ms > maxMs) {
        ctx.addIssue({ code: 'custom', message: `expected a duration of at most ${formatDuration(maxMs)}` });
        return z.NEVER;
      }
      return ms;
    });
}

export function formatDuration(ms: number): string {
  if (ms % 60_000 === 0 && ms >= 60_000) return `${ms / 60_000}m`;
  if (ms % 1_000 === 0) return `${ms / 1_000}s`;
  return `${ms}ms`;
}
