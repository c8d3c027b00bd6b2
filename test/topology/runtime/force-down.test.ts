import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LocalRuntime } from '../../../topology/runtime/local-runtime.ts';
import { findByMarker, procState, startProcess, terminate, waitForState } from '../../../topology/runtime/process-control.ts';
import { stateMarker } from '../../../topology/runtime/server-spec.ts';

describe('LocalRuntime.forceDown', () => {
  const pids: number[] = [];
  afterEach(async () => {
    for (const pid of pids.splice(0)) await terminate(pid, 500);
  });

  it('stops a state directory’s processes by marker even when its recorded deployment no longer validates', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'georeplica-fd-'));
    const spec = {
      name: 'r/x', region: 'r', kind: 'service' as const, command: '/bin/sh', args: ['-c', 'while true; do sleep 0.2; done', `--${stateMarker(dir)}`], dir, logFile: join(dir, 'x.log'), ports: [], endpoint: '-',
      prepare: () => Promise.resolve(), probeReady: () => Promise.resolve(true), probeHealth: () => Promise.resolve({ ok: true, detail: '' }),
    };
    const pid = startProcess(spec);
    pids.push(pid);
    await waitForState(pid, 'running');
    writeFileSync(join(dir, 'state.json'), JSON.stringify({ version: 1, deployment: { version: 1, stale: 'schema from an older release' }, servers: { 'r/x': { pid, startedAt: '' } } }));
    // Its region data goes with --purge; a runtime nested in its folder (like .regions/test) does not.
    mkdirSync(join(dir, 'r', 'x'), { recursive: true });
    writeFileSync(join(dir, 'r', 'x', 'server.log'), 'log');
    mkdirSync(join(dir, 'test'));
    writeFileSync(join(dir, 'test', 'state.json'), '{}');

    // A shell forking its loop's children shows its own command line until they exec: at least one.
    expect(await LocalRuntime.forceDown(dir, { purge: true, graceMs: 2_000 })).toBeGreaterThanOrEqual(1);
    expect(procState(pid)).toBe('dead');
    expect(findByMarker(stateMarker(dir))).toEqual([]);
    expect(existsSync(join(dir, 'state.json'))).toBe(false);
    expect(existsSync(join(dir, 'r'))).toBe(false);
    expect(existsSync(join(dir, 'test', 'state.json'))).toBe(true);
    rmSync(join(dir, 'test'), { recursive: true });
    await LocalRuntime.forceDown(dir, { purge: true, graceMs: 100 });
    expect(existsSync(dir)).toBe(false);
  });
});
