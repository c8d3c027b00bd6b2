/**
 * `georeplica drain <region> --reason "..."` and `georeplica undrain <region>`: asks a router's
 * admin API (the admin token comes from the deployment), then waits and prints progress from
 * every router it can reach until the change has fully taken effect:
 *
 *   drain    every router reports the region drained and none has a request in flight to it;
 *   undrain  every router reports it active again: past the catch-up gate (healthy and fresh)
 *            and the slow-start ramp.
 *
 * Exits 0 when done, 3 when --timeout passed first (the change itself is made either way).
 */
import { hostname, userInfo } from 'node:os';
import { GeoError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import { sleep } from '../core/retry.ts';
import type { RegionStatus, RouterStatus } from '../services/router/router-status.ts';
import { resolveDeployment } from './runtime-commands.ts';

export interface DrainFlags {
  config?: string | undefined;
  stateDir?: string | undefined;
  json?: boolean | undefined;
  reason?: string | undefined;
  /** Router base URLs; every region's router on 127.0.0.1 by default. */
  router?: string[] | undefined;
  noWait?: boolean | undefined;
  /** Seconds to wait at most. */
  timeout?: string | undefined;
}

export const EXIT_NOT_DONE = 3;
const DEFAULT_TIMEOUT_SEC = 120;
const POLL_MS = 250;

export async function drainCommand(action: 'drain' | 'undrain', region: string | undefined, flags: DrainFlags, log: Logger, out: (line: string) => void = console.log): Promise<number> {
  if (!region) throw new GeoError('INVALID_ARGUMENT', `${action} needs a region, e.g. "georeplica ${action} us-east${action === 'drain' ? " --reason 'kernel upgrade'" : ''}".`);
  if (action === 'drain' && !flags.reason?.trim()) throw new GeoError('INVALID_ARGUMENT', 'drain needs --reason "<why>": it is logged and kept with the drain state.');
  const timeoutMs = parseTimeout(flags.timeout);
  const deployment = resolveDeployment(flags).deployment;
  if (!(region in deployment.regions)) throw new GeoError('UNKNOWN_REGION', `Unknown region "${region}". Valid regions: ${Object.keys(deployment.regions).join(', ')}.`);
  const routers = flags.router?.length ? flags.router.map((u) => u.replace(/\/+$/, '')) : Object.values(deployment.regions).map((r) => `http://127.0.0.1:${r.ports.router}`);
  const token = deployment.admin.token;
  const by = `${userInfo().username}@${hostname()}`;

  const body = JSON.stringify({ ...(flags.reason?.trim() ? { reason: flags.reason.trim() } : {}), by });
  const via = await post(routers, `/admin/regions/${encodeURIComponent(region)}/${action}`, token, body, log);
  out(`${action === 'drain' ? 'Drained' : 'Undrained'} ${region} through ${via}${flags.reason ? ` (reason: ${flags.reason.trim()})` : ''}.`);
  if (flags.noWait) return 0;

  const deadline = Date.now() + timeoutMs;
  let lastLine = '';
  let lastPrint = 0;
  for (;;) {
    const seen = (await Promise.all(routers.map((u) => statusOf(u)))).filter((s): s is RouterStatus => s !== undefined);
    const views = seen.map((s) => s.regions.find((r) => r.region === region)).filter((r): r is RegionStatus => r !== undefined);
    const done = views.length > 0 && (action === 'drain' ? views.every((v) => v.phase === 'drained' && v.inFlight === 0) : views.every((v) => v.phase === 'active'));
    const line = progress(action, region, views, seen[0]?.freshnessBoundMs);
    if (line !== lastLine || Date.now() - lastPrint >= 2_000 || done) {
      out(flags.json ? JSON.stringify({ region, action, done, routers: views.length, regions: views }) : line);
      lastLine = line;
      lastPrint = Date.now();
    }
    if (done) {
      out(action === 'drain' ? `${region} is drained: no router sends it searches and none is in flight.` : `${region} is back: every router sends it its full share.`);
      return 0;
    }
    if (Date.now() >= deadline) {
      out(`Gave up waiting after ${Math.round(timeoutMs / 1000)} s; the ${action} stays in effect. Run "georeplica ${action} ${region}" again to keep watching.`);
      return EXIT_NOT_DONE;
    }
    await sleep(POLL_MS);
  }
}

function progress(action: 'drain' | 'undrain', region: string, views: RegionStatus[], boundMs: number | undefined): string {
  if (views.length === 0) return `${region}: no router answers /status`;
  const inFlight = views.reduce((n, v) => n + v.inFlight, 0);
  const phases = [...new Set(views.map((v) => v.phase))].join('/');
  const freshness = views.map((v) => (v.maxFreshnessMs === null ? 'unknown' : `${v.maxFreshnessMs} ms`))[0] ?? 'unknown';
  const base = `${region}: ${phases} on ${views.length} router${views.length === 1 ? '' : 's'}; in flight ${inFlight}; freshness ${freshness}${boundMs === undefined ? '' : ` (bound ${boundMs} ms)`}`;
  if (action === 'drain') return base;
  const v = views[0] as RegionStatus;
  if (v.phase === 'catching-up') return `${base}; waiting for the catch-up gate: healthy ${v.healthy ? 'yes' : 'no'}, ejected ${v.ejected ? 'yes' : 'no'}, fresh ${v.fresh ? 'yes' : 'no'}`;
  if (v.phase === 'ramping') return `${base}; slow start at ${Math.round(Math.min(...views.map((x) => x.weight)) * 100)} % of its share`;
  return base;
}

/** POSTs to the first router that answers; a refusal (4xx) is final, an unreachable router is skipped. */
async function post(routers: readonly string[], path: string, token: string, body: string, log: Logger): Promise<string> {
  const unreachable: string[] = [];
  for (const base of routers) {
    let res: Response;
    try {
      res = await fetch(`${base}${path}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body, signal: AbortSignal.timeout(5_000) });
    } catch (err) {
      log.debug({ err, router: base }, 'router not reachable');
      unreachable.push(base);
      continue;
    }
    if (res.ok) return base;
    const text = await res.text();
    let message = text;
    try {
      message = (JSON.parse(text) as { error?: { message?: string } }).error?.message ?? text;
    } catch {
      // Not our JSON error body: show it as is.
    }
    if (res.status >= 500) {
      unreachable.push(`${base} (${res.status}: ${message})`);
      continue;
    }
    throw new GeoError(res.status === 401 ? 'UNAUTHENTICATED' : res.status === 403 ? 'FORBIDDEN' : 'INVALID_ARGUMENT', `Router ${base} refused: ${message}`);
  }
  throw new GeoError('RUNTIME_NOT_RUNNING', `No router could take the request: ${unreachable.join(', ')}. Is a router running (pass --router <url>)?`);
}

async function statusOf(base: string): Promise<RouterStatus | undefined> {
  try {
    const res = await fetch(`${base}/status`, { signal: AbortSignal.timeout(2_000) });
    return res.ok ? ((await res.json()) as RouterStatus) : undefined;
  } catch {
    return undefined;
  }
}

function parseTimeout(value: string | undefined): number {
  if (value === undefined) return DEFAULT_TIMEOUT_SEC * 1000;
  const seconds = Number(value);
  if (!/^\d+(\.\d+)?$/.test(value) || seconds <= 0 || seconds > 3600) throw new GeoError('INVALID_ARGUMENT', `--timeout: got "${value}"; expected seconds, more than 0 and at most 3600.`);
  return Math.round(seconds * 1000);
}
