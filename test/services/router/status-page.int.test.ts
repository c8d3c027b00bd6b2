/**
 * The status page in a real headless Chromium (Debian's package): it renders every region with
 * its health, freshness, traffic phase and share, shows recent failovers, reloads itself, and
 * the screenshot is a real picture of it.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import type { BrowserContext } from 'playwright-core';
import { afterEach, describe, expect, it } from 'vitest';
import { testDeployment } from '../../setup/test-deployment.ts';
import { useRouters } from '../../support/router-fixture.ts';
import { useFakeRegions } from '../../support/router-upstreams.ts';
import type { FakeRegion } from '../../support/router-upstreams.ts';

const deployment = testDeployment();

describe('status page', () => {
  const fakes = useFakeRegions(deployment);
  const routers = useRouters();
  let browser: BrowserContext | undefined;
  let profile: string | undefined;
  afterEach(async () => {
    await browser?.close();
    browser = undefined;
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  it('shows each region\'s health, freshness, drain state, traffic share and recent failovers in headless Chromium', async () => {
    const regions = await fakes.start();
    // Ejections long enough to still show once the browser is up.
    const api = await routers.build({ deployment, region: 'us-east', endpoints: fakes.endpoints(regions), settings: [{ outlier: { baseEjectionMs: 60_000, maxEjectionMs: 60_000 } }] });
    const base = await api.app.listen({ host: '127.0.0.1', port: 0 });
    for (let i = 0; i < 6; i++) await api.app.inject({ method: 'GET', url: `/search?q=a${i}` });
    for (let i = 0; i < 2; i++) await api.app.inject({ method: 'GET', url: `/search?q=b${i}&region=ap-southeast` });
    (regions['us-east'] as FakeRegion).mode = 'error';
    for (let i = 0; i < 4; i++) await api.app.inject({ method: 'GET', url: `/search?q=c${i}` });
    const drain = await api.app.inject({ method: 'POST', url: '/admin/regions/ap-southeast/drain', headers: { authorization: `Bearer ${deployment.admin.token}` }, payload: { reason: 'planned maintenance', by: 'ops' } });
    expect(drain.statusCode).toBe(202);
    await expect.poll(() => api.router.status().regions.find((r) => r.region === 'ap-southeast')?.phase, { timeout: 1_000 }).toBe('drained');

    profile = mkdtempSync(join(tmpdir(), 'georeplica-chromium-'));
    // A fresh profile directory (playwright passes it as --user-data-dir).
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: '/usr/bin/chromium',
      headless: true,
      viewport: { width: 1200, height: 800 },
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    const page = await browser.newPage();
    const res = await page.goto(`${base}/`);
    expect(res?.status()).toBe(200);
    expect(await page.title()).toBe('georeplica router · us-east');
    const text = await page.locator('body').innerText();
    for (const region of Object.keys(deployment.regions)) expect(text).toContain(region);
    const row = (region: string) => page.locator(`tr[data-region="${region}"]`).innerText();
    expect(await row('us-east')).toMatch(/ejected/);
    expect(await row('eu-west')).toMatch(/healthy[\s\S]*fresh 50 ms[\s\S]*active/);
    expect(await row('ap-southeast')).toMatch(/drained[\s\S]*by ops \(token sha256:[0-9a-f]{12}[\s\S]*planned maintenance/);
    // 6 + 4 (failed over) of 12 served by us-east/eu-west, 2 by ap-southeast: shares are per region.
    expect(await row('eu-west')).toContain('33 % (4)');
    expect(await row('ap-southeast')).toContain('17 % (2)');
    expect(text).toMatch(/Recent failovers[\s\S]*us-east\s+eu-west\s+unhealthy|us-east\s+eu-west\s+error/);
    expect(await page.locator('meta[http-equiv="refresh"]').getAttribute('content')).toBe('2');

    // It reloads itself: a change shows up without anyone touching the page.
    (regions['us-east'] as FakeRegion).mode = 'ok';
    const undrain = await api.app.inject({ method: 'POST', url: '/admin/regions/ap-southeast/undrain', headers: { authorization: `Bearer ${deployment.admin.token}` }, payload: {} });
    expect(undrain.statusCode).toBe(202);
    await expect.poll(async () => page.locator('tr[data-region="ap-southeast"]').innerText(), { timeout: 10_000, interval: 250 }).toMatch(/undrained by/);

    const png = await page.screenshot({ fullPage: true });
    const out = join(tmpdir(), 'georeplica-router-status.png');
    writeFileSync(out, png);
    console.log(`[status-page] screenshot ${png.length} bytes at ${out}`);
    expect(png.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))).toBe(true);
    expect(png.readUInt32BE(16)).toBe(1200);
    expect(png.readUInt32BE(20)).toBeGreaterThanOrEqual(400);
    expect(png.length).toBeGreaterThan(20_000);
  });
});
