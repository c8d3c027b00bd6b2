import { afterAll, describe, expect, inject, it } from 'vitest';
import { validateDeployment } from '../../../config/load.ts';
import { withPortOffset, withStateDir } from '../../../topology/runtime/deployment-variants.ts';
import { LocalRuntime } from '../../../topology/runtime/local-runtime.ts';
import { findByMarker } from '../../../topology/runtime/process-control.ts';
import { tcpOpen } from '../../../topology/runtime/probes.ts';
import { stateMarker } from '../../../topology/runtime/server-spec.ts';
import { testDeploymentDoc } from '../../setup/test-deployment.ts';
import { uniqueName } from '../../support/names.ts';

describe('georeplica up with services, then down', () => {
  // A one-region runtime of its own, so stopping it cannot disturb the shared test regions.
  const stateDir = `${inject('regionsStateDir')}-down`;
  const doc = withStateDir(withPortOffset(testDeploymentDoc(), 3_000), stateDir);
  const regions = doc['regions'] as Record<string, unknown>;
  // Its router keeps drain state and cached answers under names of its own, so no other runtime's drains reach it.
  const own = uniqueName('down');
  const solo = { ...doc, defaultRegion: 'eu-west', regions: { 'eu-west': regions['eu-west'] }, latencies: {}, router: { nats: { bucket: own }, redis: { keyPrefix: `${own}:` } } };
  const runtime = new LocalRuntime({ deployment: validateDeployment(solo, 'down test'), services: true });
  afterAll(() => runtime.down({ purge: true }));

  it('runs the whole regional stack (write, index, search, route), then stops every process it started and frees every port', async () => {
    await runtime.up();
    const marker = stateMarker(runtime.stateDir);
    const names = ['eu-west/kafka-0', 'eu-west/opensearch', 'eu-west/replicator', 'eu-west/indexer', 'eu-west/ingest', 'eu-west/search', 'eu-west/router'];
    let status = await runtime.status();
    expect(status.map((s) => `${s.name} ${s.process}`)).toEqual(names.map((n) => `${n} running`));
    expect(findByMarker(marker).sort()).toEqual(status.map((s) => s.pid).sort());

    // The main job end to end: a write through the ingest API is found through the router.
    const ports = runtime.deployment.regions['eu-west']?.ports;
    const put = await fetch(`http://127.0.0.1:${ports?.ingest}/documents/runtime-smoke`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ title: 'smoke test kettle' }) });
    expect(put.status).toBe(202);
    const { version } = (await put.json()) as { version: string };
    await expect
      .poll(
        async () => {
          const res = await fetch(`http://127.0.0.1:${ports?.router}/search?q=kettle`);
          const body = (await res.json()) as { hits?: Array<{ id: string; version: string }> };
          return res.status === 200 ? body.hits?.map((h) => `${h.id}@${h.version}`) : res.status;
        },
        { timeout: 60_000, interval: 500 },
      )
      .toEqual([`runtime-smoke@${version}`]);
    await expect.poll(async () => (await runtime.status()).filter((s) => !s.healthy).map((s) => `${s.name}: ${s.detail}`), { timeout: 30_000 }).toEqual([]);
    status = await runtime.status();

    await runtime.down();
    expect(findByMarker(marker)).toEqual([]);
    for (const s of status) for (const port of s.ports) expect(await tcpOpen('127.0.0.1', port, 300)).toBe(false);
    expect((await runtime.status()).map((s) => s.process)).toEqual(names.map(() => 'not started'));
  });
});
