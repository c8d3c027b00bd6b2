/** Content-Type checks at the HTTP edge, shared by every service that takes a body. */

/** The media type of a Content-Type header, lowercased, without parameters; undefined when absent or blank. */
export function mediaTypeOf(header: string | undefined): string | undefined {
  const type = header?.split(';')[0]?.trim().toLowerCase();
  return type === undefined || type === '' ? undefined : type;
}

/** What is wrong with the header for `route`, in the problem shape every 400 uses; undefined when it names one of `accepted`. */
export function contentTypeProblem(header: string | undefined, accepted: readonly string[], route: string): { path: string; value: unknown; expected: string } | undefined {
  const type = mediaTypeOf(header);
  if (type !== undefined && accepted.includes(type)) return undefined;
  return { path: 'content-type', value: header, expected: `expected ${accepted.map((a) => `"${a}"`).join(' or ')} for ${route}` };
}
