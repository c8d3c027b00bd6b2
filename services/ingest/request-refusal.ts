/**
 * The ingest API's 400 answers. Every refusal lists problems in the document events' shape
 * ({ path, value, expected }, see docs/EVENTS.md), so a client reads "which field, what was
 * there, what rule" the same way whether the id, the body, the content type or a bulk line is
 * wrong:
 *
 *   Invalid document (1 problem):
 *     - id: got "a b"; expected a document id of only A-Z a-z 0-9 and - . _ ~ : @ (found " " at position 1)
 *
 * Document problems (id and body rules) are EVENT_INVALID; problems with the request itself
 * (content type, JSON syntax, size, bulk framing) are INVALID_ARGUMENT. Both are 400.
 */
import { GeoError } from '../../core/errors.ts';
import { contentTypeProblem } from '../../core/http/content-type.ts';
import { formatEventProblems } from '../events/document-event.ts';
import type { EventProblem } from '../events/document-event.ts';

/** Longest value quoted in a problem, as document-event.ts cuts them. */
const MAX_SAMPLE_CHARS = 120;

export function problemAt(path: string, value: unknown, expected: string): EventProblem {
  const shown = typeof value === 'string' && value.length > MAX_SAMPLE_CHARS ? `${value.slice(0, MAX_SAMPLE_CHARS - 3)}...` : value;
  return Object.freeze({ path, value: shown, expected });
}

/** 400, EVENT_INVALID: the document (id, body) breaks a rule. */
export function invalidDocument(problems: readonly EventProblem[], subject = 'Invalid document'): GeoError {
  return new GeoError('EVENT_INVALID', formatEventProblems(subject, problems), { details: { problems } });
}

/** 400, INVALID_ARGUMENT: the request around the document is wrong. */
export function invalidRequest(problems: readonly EventProblem[]): GeoError {
  return new GeoError('INVALID_ARGUMENT', formatEventProblems('Invalid request', problems), { details: { problems } });
}

/** INVALID_ARGUMENT naming the content-type rule, or undefined when `header` names one of `accepted`. */
export function contentTypeRefusal(header: string | undefined, accepted: readonly string[], route: string): GeoError | undefined {
  const problem = contentTypeProblem(header, accepted, route);
  return problem === undefined ? undefined : invalidRequest([problemAt(problem.path, problem.value, problem.expected)]);
}
