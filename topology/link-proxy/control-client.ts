/** Talks to a link proxy's control API (control-api.ts): what `LocalRuntime.link()` and the CLI use. */
import type { HostPort } from '../../config/link-plan.ts';
import { GeoError } from '../../core/errors.ts';
import { withRetry } from '../../core/retry.ts';
import type { RetryPolicy } from '../../core/retry.ts';
import type { FaultsBody } from './control-api.ts';
import type { LinkFaultsChange } from './link-faults.ts';

export interface LinkControlTarget {
  link: string;
  control: HostPort;
  token: string;
}

/** Applies a change (or 'clear': back to the baseline) and returns the link's faults after it. */
export async function changeLink(t: LinkControlTarget, change: Readonly<LinkFaultsChange> | 'clear'): Promise<FaultsBody> {
  const init: RequestInit =
    change === 'clear'
      ? { method: 'DELETE', headers: { authorization: `Bearer ${t.token}` } }
      : { method: 'PATCH', headers: { authorization: `Bearer ${t.token}`, 'content-type': 'application/json' }, body: JSON.stringify(change) };
  return call(t, init);
}

export async function readLink(t: LinkControlTarget): Promise<FaultsBody> {
  return call(t, { method: 'GET' });
}

/**
 * Every call is idempotent (a read, absolute values, or back to the baseline), so one that
 * timed out (a proxy starved of CPU) is sent again: it may have taken effect, and giving up
 * would leave its caller unsure. A refused connection is not retried: the proxy is not running.
 */
const CONTROL_RETRY: RetryPolicy = Object.freeze({ attempts: 4, baseDelayMs: 250, maxDelayMs: 2_000, deadlineMs: 30_000 });

function call(t: LinkControlTarget, init: RequestInit): Promise<FaultsBody> {
  return withRetry(() => callOnce(t, init), CONTROL_RETRY);
}

async function callOnce(t: LinkControlTarget, init: RequestInit): Promise<FaultsBody> {
  const url = `http://${t.control.host}:${t.control.port}/faults`;
  let res: Response;
  try {
    res = await fetch(url, { ...init, signal: AbortSignal.timeout(5_000) });
  } catch (cause) {
    if ((cause as Error).name === 'TimeoutError') throw new GeoError('TIMEOUT', `Link proxy ${t.link} did not answer on ${url} within 5 s (is the machine overloaded?)`, { cause, details: { link: t.link, url } });
    throw new GeoError('RUNTIME_NOT_RUNNING', `Link proxy ${t.link} does not answer on ${url}; start it with: npx georeplica start link/${t.link}`, { cause, details: { link: t.link, url } });
  }
  const text = await res.text();
  if (!res.ok) {
    let message = text;
    try {
      message = (JSON.parse(text) as { error?: { message?: string } }).error?.message ?? text;
    } catch {
      // Not our JSON error body: show it as is.
    }
    throw new GeoError(res.status === 400 ? 'INVALID_ARGUMENT' : res.status === 401 ? 'UNAUTHENTICATED' : res.status === 403 ? 'FORBIDDEN' : 'INTERNAL', `Link proxy ${t.link} refused (${res.status}): ${message}`, { details: { link: t.link, status: res.status } });
  }
  return JSON.parse(text) as FaultsBody;
}
