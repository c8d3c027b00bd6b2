/**
 * CPU time of processes (user + system, from /proc/<pid>/stat), to tell where the CPU of a shared
 * machine went during a benchmark phase: the system under test, the benchmark's own processes,
 * and by difference with the machine's total (/proc/stat), everyone else's.
 */
import { readFileSync } from 'node:fs';

/** Linux's USER_HZ: /proc reports CPU times in these ticks (100 on every mainstream kernel). */
const TICKS_PER_SECOND = 100;

/** CPU seconds a process has used so far, or NaN when it is gone. */
export function processCpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces; fields after its closing parenthesis are fixed.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
  } catch {
    return Number.NaN;
  }
}

/** Busy CPU seconds of the whole machine so far (all cores; everything but idle and iowait). */
export function machineBusyCpuSeconds(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  const [, ...values] = line.trim().split(/\s+/);
  const n = values.map(Number);
  const total = n.slice(0, 8).reduce((a, b) => a + b, 0);
  const idle = (n[3] ?? 0) + (n[4] ?? 0);
  return (total - idle) / TICKS_PER_SECOND;
}

export interface CpuSnapshot {
  at: number;
  machine: number;
  processes: Record<string, number>;
}

export function cpuSnapshot(pids: Readonly<Record<string, number>>): CpuSnapshot {
  return { at: performance.now(), machine: machineBusyCpuSeconds(), processes: Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, processCpuSeconds(pid)])) };
}

export interface CpuUsage {
  seconds: number;
  /** CPU pressure (PSI "some", avg60, %) at the end of the interval: how often something waited for a CPU. */
  pressureAvg60: number | undefined;
  /** Cores busy on average over the interval, whole machine. */
  machineCores: number;
  /** Cores used on average per named process. */
  processCores: Record<string, number>;
  /** machineCores minus the named processes: everything else on the machine. */
  otherCores: number;
}

export function cpuUsage(from: CpuSnapshot, to: CpuSnapshot): CpuUsage {
  const seconds = (to.at - from.at) / 1000;
  const r2 = (x: number): number => Math.round(x * 100) / 100;
  const processCores = Object.fromEntries(Object.keys(to.processes).map((name) => [name, r2(((to.processes[name] ?? Number.NaN) - (from.processes[name] ?? Number.NaN)) / seconds)]));
  const machineCores = (to.machine - from.machine) / seconds;
  const named = Object.values(processCores).filter((x) => Number.isFinite(x)).reduce((a, b) => a + b, 0);
  return { seconds: r2(seconds), pressureAvg60: cpuPressure()?.avg60, machineCores: r2(machineCores), processCores, otherCores: r2(machineCores - named) };
}

/**
 * The kernel's CPU pressure (PSI): the share of time at least one runnable task waited for a CPU,
 * averaged over the last 10 and 60 s, in percent; undefined where PSI is not available.
 */
export function cpuPressure(): { avg10: number; avg60: number } | undefined {
  try {
    const some = readFileSync('/proc/pressure/cpu', 'utf8').split('\n').find((l) => l.startsWith('some')) ?? '';
    const field = (name: string): number => Number(new RegExp(`${name}=([\\d.]+)`).exec(some)?.[1] ?? Number.NaN);
    return { avg10: field('avg10'), avg60: field('avg60') };
  } catch {
    return undefined;
  }
}
