/**
 * The status page (`GET /`): plain HTML that reloads itself every few seconds, readable without
 * JavaScript — each region's health, freshness, traffic phase, share of traffic and the recent
 * failovers.
 */
import type { RegionStatus, RouterStatus } from './router-status.ts';

export const STATUS_REFRESH_SEC = 2;

export function renderStatusPage(s: RouterStatus, now = Date.now()): string {
  const rows = s.regions.map((r) => regionRow(r, s.freshnessBoundMs)).join('\n');
  const failovers =
    s.failovers.length === 0
      ? '<p class="quiet">No failovers since this router started.</p>'
      : `<table><thead><tr><th>last seen</th><th>from</th><th>to</th><th>cause</th><th>searches</th></tr></thead><tbody>\n${s.failovers
          .map((f) => `<tr><td>${esc(ago(now - f.lastAt))} ago</td><td>${esc(f.from)}</td><td>${esc(f.to)}</td><td>${esc(f.cause)}</td><td>${f.count}</td></tr>`)
          .join('\n')}\n</tbody></table>`;
  const b = s.budgets;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="refresh" content="${STATUS_REFRESH_SEC}">
<title>georeplica router · ${esc(s.region)}</title>
<style>
body { font: 15px/1.4 system-ui, sans-serif; margin: 2em; color: #1d2329; background: #fff; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #c8d0d8; padding: 0.35em 0.8em; text-align: left; }
th { background: #eef2f5; }
.ok { color: #0a6b2b; font-weight: 600; }
.bad { color: #b3141b; font-weight: 600; }
.warn { color: #8a5a00; font-weight: 600; }
.quiet { color: #5c6670; }
</style>
</head>
<body>
<h1>georeplica router</h1>
<p class="quiet">Router ${esc(s.instance)} in ${esc(s.region)}, up since ${esc(s.startedAt)}. Freshness bound ${s.freshnessBoundMs} ms. This page reloads every ${STATUS_REFRESH_SEC} s.</p>
<h2>Regions</h2>
<table id="regions"><thead><tr><th>region</th><th>health</th><th>freshness</th><th>traffic</th><th>share (last minute)</th><th>in flight</th><th>round trip</th></tr></thead><tbody>
${rows}
</tbody></table>
<h2>Recent failovers</h2>
${failovers}
<h2>Budgets (last 10 s)</h2>
<p>Retries: ${b.retry.used} used of ${b.retry.allowed} allowed, ${b.retry.denied} denied, for ${b.retry.requests} searches. Hedges: ${b.hedge.used} used of ${b.hedge.allowed} allowed, ${b.hedge.denied} denied.</p>
</body>
</html>
`;
}

function regionRow(r: RegionStatus, boundMs: number): string {
  const health = r.ejected ? `<span class="bad">ejected</span> until ${esc(r.ejectedUntil ?? '')}` : r.healthy ? `<span class="ok">healthy</span> (${esc(r.health)})` : `<span class="bad">unhealthy</span> (${esc(r.health)})`;
  const sources = Object.entries(r.freshness).map(([source, ms]) => `${esc(source)} ${ms === null ? 'unknown' : `${ms} ms`}`);
  const freshness = `<span class="${r.fresh ? 'ok' : 'warn'}">${r.fresh ? 'fresh' : r.maxFreshnessMs === null ? 'unknown' : 'stale'}</span>${r.maxFreshnessMs === null ? '' : ` ${r.maxFreshnessMs} ms`} (bound ${boundMs} ms)${sources.length > 0 ? `<br><span class="quiet">${sources.join(', ')}</span>` : ''}`;
  const drain = r.drain === null ? '' : `<br><span class="quiet">${esc(r.drain.state === 'drained' ? 'drained' : 'undrained')} by ${esc(r.drain.by)} at ${esc(r.drain.at)}${r.drain.reason === null ? '' : `: ${esc(r.drain.reason)}`}</span>`;
  const phase = r.phase === 'active' ? '<span class="ok">active</span>' : r.phase === 'ramping' ? `<span class="warn">ramping</span> ${Math.round(r.weight * 100)} %` : r.phase === 'catching-up' ? '<span class="warn">catching up</span> (undrained, waiting until healthy and fresh)' : '<span class="bad">drained</span>';
  return `<tr data-region="${esc(r.region)}"><td><strong>${esc(r.region)}</strong></td><td>${health}</td><td>${freshness}</td><td>${phase}${drain}</td><td>${Math.round(r.share * 100)} % (${r.servedLastMinute})</td><td>${r.inFlight}</td><td>${r.rttMs === null ? '–' : `${r.rttMs} ms`}</td></tr>`;
}

function ago(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  return s < 120 ? `${s} s` : `${Math.round(s / 60)} min`;
}

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);
}
