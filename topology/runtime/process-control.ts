/**
 * Starting, signalling and reaping server processes. Each server runs detached in its own
 * process group, with stdout and stderr appended to its log file, so it outlives the CLI
 * that started it and a signal to the group reaches every process it forked.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { GeoError } from '../../core/errors.ts';
import { sleep } from '../../core/retry.ts';
import type { ServerSpec } from './server-spec.ts';

export type ProcState = 'running' | 'paused' | 'dead';

export function procState(pid: number): ProcState {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 3 follows the parenthesised command name, which may itself contain spaces.
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    // A zombie has exited; only its parent has not collected the status yet.
    if (state === 'Z' || state === 'X') return 'dead';
    if (state === 'T' || state === 't') return 'paused';
    return 'running';
  } catch {
    return 'dead';
  }
}

export function isAlive(pid: number): boolean {
  const s = procState(pid);
  return s === 'running' || s === 'paused';
}

/**
 * True when one argument of the process is exactly the marker (as -D<marker> or --<marker>).
 * Whole-argument matching matters: ".regions" must not match ".regions/test".
 */
export function hasMarker(pid: number, marker: string): boolean {
  let raw: string;
  try {
    raw = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return false;
  }
  return raw.split('\0').some((arg) => arg === `-D${marker}` || arg === `--${marker}`);
}

/** Pids carrying `marker`: the runtime's own processes, even ones its state lost. */
export function findByMarker(marker: string): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    if (hasMarker(pid, marker) && isAlive(pid)) out.push(pid);
  }
  return out;
}

export function logSize(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

/** What a log file holds after `offset`: read from there only (a broker's log grows to many MB, and readiness polls it every 250 ms). */
export function readLogFrom(file: string, offset: number): string {
  let fd: number | undefined;
  try {
    fd = openSync(file, 'r');
    const size = fstatSync(fd).size;
    const start = Math.min(offset, size);
    const buf = Buffer.alloc(size - start);
    let read = 0;
    while (read < buf.length) {
      const n = readSync(fd, buf, read, buf.length - read, start + read);
      if (n === 0) break;
      read += n;
    }
    return buf.subarray(0, read).toString('utf8');
  } catch {
    return '';
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

export function tailLog(file: string, lines = 15): string {
  if (!existsSync(file)) return '(no log yet)';
  return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
}

/** Fails with RUNTIME_PORT_IN_USE, naming the server and the port, if any port is taken. */
export async function assertPortsFree(spec: ServerSpec): Promise<void> {
  for (const port of spec.ports) {
    const free = await new Promise<boolean>((resolve) => {
      const srv = createServer();
      srv.once('error', () => resolve(false));
      srv.listen({ port, host: '127.0.0.1', exclusive: true }, () => srv.close(() => resolve(true)));
    });
    if (!free) {
      throw new GeoError('RUNTIME_PORT_IN_USE', `Port ${port} needed by ${spec.name} is already in use. Stop whatever holds it (ss -ltnp 'sport = :${port}') or change the port in the configuration.`, { details: { server: spec.name, port } });
    }
  }
}

export function startProcess(spec: ServerSpec): number {
  const fd = openSync(spec.logFile, 'a');
  try {
    // Through nice(1), which execs the server (same pid): every thread it starts inherits the priority.
    const [command, args] = spec.niceness ? ['nice', ['-n', String(spec.niceness), spec.command, ...spec.args]] : [spec.command, [...spec.args]];
    const child = spawn(command, args, {
      cwd: spec.dir,
      env: { ...process.env, ...spec.env },
      detached: true,
      stdio: ['ignore', fd, fd],
    });
    if (child.pid === undefined) throw new GeoError('RUNTIME_PROCESS_EXITED', `Could not start ${spec.name} (${spec.command}); see ${spec.logFile}.`);
    if (spec.niceness) setSessionNiceness(child.pid, spec.niceness);

    // Reap it if it dies while we are alive, so it never lingers as a zombie.
    child.once('error', () => undefined);
    child.unref();
    return child.pid;
  } finally {
    closeSync(fd);
  }
}

/**
 * A detached process leads a session of its own, and under the kernel's autogroup scheduling
 * (`kernel.sched_autogroup_enabled`, on by default in many distributions) the CPU is shared
 * between sessions first, equally: a process's own nice value then only ranks it against its
 * own threads, and a busy pipeline stage gets the same share as an idle-ish one. The session's
 * nice value (`/proc/<pid>/autogroup`) is what ranks it against the other servers. spawn()
 * returns after the exec, so the child has already called setsid. Best effort: without
 * autogroups the file is missing and nice(1) alone does the ranking.
 */
function setSessionNiceness(pid: number, niceness: number): void {
  try {
    writeFileSync(`/proc/${pid}/autogroup`, String(niceness));
  } catch {
    // No autogroup scheduling here, or not permitted: the per-process nice value stands.
  }
}

export function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      // Already gone.
    }
  }
}

/** Signals are delivered asynchronously: wait until the process shows the state asked for. */
export async function waitForState(pid: number, want: ProcState, timeoutMs = 5_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (procState(pid) === want) return true;
    await sleep(20);
  }
  return procState(pid) === want;
}

export async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return true;
    await sleep(100);
  }
  return !isAlive(pid);
}

/** SIGTERM, then SIGKILL after the grace period. A paused process is resumed so it can handle TERM. */
export async function terminate(pid: number, graceMs: number): Promise<void> {
  if (!isAlive(pid)) return;
  signalGroup(pid, 'SIGTERM');
  signalGroup(pid, 'SIGCONT');
  if (await waitForExit(pid, graceMs)) return;
  signalGroup(pid, 'SIGKILL');
  await waitForExit(pid, 5_000);
}

/** Waits until the server's probe passes, failing fast if it exits and clearly if it takes too long. */
export async function waitReady(spec: ServerSpec, pid: number, logOffset: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!isAlive(pid)) {
      throw new GeoError('RUNTIME_PROCESS_EXITED', `${spec.kind} server ${spec.name} (region ${spec.region}) exited during startup. Log: ${spec.logFile}\n${tailLog(spec.logFile)}`, { details: { server: spec.name, region: spec.region, logFile: spec.logFile } });
    }
    if (await spec.probeReady(readLogFrom(spec.logFile, logOffset))) return;
    if (Date.now() > deadline) {
      throw new GeoError('RUNTIME_READINESS_TIMEOUT', `${spec.kind} server ${spec.name} (region ${spec.region}) was not ready after ${Math.round(timeoutMs / 1000)} s. Log: ${spec.logFile}\n${tailLog(spec.logFile)}`, { details: { server: spec.name, region: spec.region, logFile: spec.logFile } });
    }
    await sleep(250);
  }
}
