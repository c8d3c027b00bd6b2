import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { GeoError } from '../../../core/errors.ts';
import { findByMarker, procState, startProcess, terminate, waitForState, waitReady } from '../../../topology/runtime/process-control.ts';
import type { ServerSpec } from '../../../topology/runtime/server-spec.ts';

// Real child processes (sh), no JVM: the supervision logic on its own.
function shellSpec(dir: string, script: string, ready: (log: string) => boolean, extraArgs: string[] = []): ServerSpec {
  return {
    name: 'test-region/fake',
    region: 'test-region',
    kind: 'service',
    command: '/bin/sh',
    args: ['-c', script, ...extraArgs],
    dir,
    logFile: join(dir, 'server.log'),
    ports: [],
    endpoint: '-',
    prepare: () => Promise.resolve(),
    probeReady: (log) => Promise.resolve(ready(log)),
    probeHealth: () => Promise.resolve({ ok: true, detail: '' }),
  };
}

// Each test waits for real processes (readiness up to 5-10 s, state changes up to 5 s each).
// These unit tests run while the integration setup boots eight JVMs, and then the whole vitest
// session shares one autogroup's CPU with them: 5 s (vitest's default) was too little in CI.
describe('process control', { timeout: 30_000 }, () => {
  const dirs: string[] = [];
  const pids: number[] = [];
  afterEach(async () => {
    for (const pid of pids.splice(0)) await terminate(pid, 1_000);
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  const tmp = (): string => {
    const d = mkdtempSync(join(tmpdir(), 'georeplica-pc-'));
    dirs.push(d);
    return d;
  };

  it('starts a server at the nice value its spec asks for, with the same pid (nice execs it)', async () => {
    const dir = tmp();
    const pid = startProcess({ ...shellSpec(dir, 'echo up; exec sleep 30', () => true), niceness: 5 });
    pids.push(pid);
    await expect.poll(() => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0], { timeout: 5_000, interval: 20 }).toBe('sleep');
    // Field 19 of /proc/<pid>/stat is the nice value (the 17th after the parenthesised name).
    // Relative to this process's own: a CI runner may itself run niced.
    const nice = (p: number | 'self'): number => Number(readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1]?.split(' ')[16]);
    const own = nice('self');
    expect(nice(pid)).toBe(Math.min(19, own + 5));
    // Under autogroup scheduling the session's nice value is what ranks it against other servers.
    if (existsSync('/proc/self/autogroup')) expect(readFileSync(`/proc/${pid}/autogroup`, 'utf8')).toMatch(/ nice 5\n?$/);
    const plain = startProcess(shellSpec(tmp(), 'exec sleep 30', () => true));
    pids.push(plain);
    expect(nice(plain)).toBe(own);
  });

  it('waits until the probe sees the ready line in the log written since start', async () => {
    const spec = shellSpec(tmp(), 'sleep 0.3; echo READY; sleep 30', (log) => log.includes('READY'));
    const pid = startProcess(spec);
    pids.push(pid);
    await expect(waitReady(spec, pid, 0, 10_000)).resolves.toBeUndefined();
  });

  it('fails fast, naming the server, region and log, when the process exits during startup', async () => {
    const spec = shellSpec(tmp(), 'echo "bad flag: --frobnicate" >&2; exit 3', () => false);
    const pid = startProcess(spec);
    const t0 = Date.now();
    const err = await waitReady(spec, pid, 0, 30_000).catch((e: unknown) => e);
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(err).toBeInstanceOf(GeoError);
    expect((err as GeoError).code).toBe('RUNTIME_PROCESS_EXITED');
    expect((err as GeoError).message).toContain('test-region/fake (region test-region) exited during startup');
    expect((err as GeoError).message).toContain(spec.logFile);
    expect((err as GeoError).message).toContain('bad flag: --frobnicate');
  });

  it('times out with a clear error naming region, server and log file', async () => {
    const spec = shellSpec(tmp(), 'echo starting; sleep 30', () => false);
    const pid = startProcess(spec);
    pids.push(pid);
    const err = await waitReady(spec, pid, 0, 600).catch((e: unknown) => e);
    expect((err as GeoError).code).toBe('RUNTIME_READINESS_TIMEOUT');
    expect((err as GeoError).retriable).toBe(true);
    expect((err as GeoError).message).toMatch(/test-region\/fake \(region test-region\) was not ready after 1 s\. Log: .*server\.log/);
  });

  it('pauses, resumes and terminates a process group, escalating to SIGKILL when TERM is ignored', async () => {
    // One process that ignores TERM: an ignored signal stays ignored across exec. A shell loop
    // forking `sleep` was flaky: dash vforks, and a SIGSTOP that lands between the vfork and the
    // child's exec stops the child while the shell waits, uninterruptibly (state D), for it.
    const spec = shellSpec(tmp(), "trap '' TERM; echo TRAPPED; exec sleep 30", (log) => log.includes('TRAPPED'));
    const pid = startProcess(spec);
    pids.push(pid);
    await waitReady(spec, pid, 0, 5_000);
    process.kill(-pid, 'SIGSTOP');
    expect(await waitForState(pid, 'paused')).toBe(true);
    process.kill(-pid, 'SIGCONT');
    expect(await waitForState(pid, 'running')).toBe(true);
    const t0 = Date.now();
    await terminate(pid, 500);
    expect(procState(pid)).toBe('dead');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(400);
  });

  it('finds processes by their exact state marker, never by a prefix of it', async () => {
    const dir = tmp();
    const parent = shellSpec(dir, 'sleep 30', () => true, [`--georeplica-state=${dir}/regions`]);
    const child = shellSpec(dir, 'sleep 30', () => true, [`--georeplica-state=${dir}/regions/test`]);
    const a = startProcess(parent);
    const b = startProcess(child);
    pids.push(a, b);
    // Until exec, a forked child still shows its parent's command line: wait for both.
    await expect.poll(() => findByMarker(`georeplica-state=${dir}/regions/test`).length).toBe(1);
    await expect.poll(() => findByMarker(`georeplica-state=${dir}/regions`).length).toBe(1);
    expect(findByMarker(`georeplica-state=${dir}/regions`)).toEqual([a]);
    expect(findByMarker(`georeplica-state=${dir}/regions/test`)).toEqual([b]);
  });
});
