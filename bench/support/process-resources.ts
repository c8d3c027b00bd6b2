/**
 * CPU time and memory of another process, read from /proc (Linux only): user + system CPU
 * seconds from /proc/<pid>/stat and resident memory from /proc/<pid>/status. The peak is the
 * larger of the kernel's high-water mark (VmHWM) and the samples taken every `intervalMs`, so a
 * peak is kept even when the process is SIGKILLed before its last read.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

let ticksPerSecond: number | undefined;

function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      // Linux has used 100 on every common architecture for decades.
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** User + system CPU seconds of `pid` so far, or undefined when it is gone. */
export function cpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and parentheses: count fields after its last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    return Number.isFinite(utime) && Number.isFinite(stime) ? (utime + stime) / clockTicks() : undefined;
  } catch {
    return undefined;
  }
}

/** Resident and peak resident memory of `pid` in MiB, or undefined when it is gone. */
export function memoryMiB(pid: number): { rss: number; hwm: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
    const rss = kb('VmRSS');
    const hwm = kb('VmHWM');
    return Number.isFinite(rss) ? { rss: rss / 1024, hwm: Number.isFinite(hwm) ? hwm / 1024 : rss / 1024 } : undefined;
  } catch {
    return undefined;
  }
}

export interface ResourceReading {
  /** CPU seconds since the sampler started (the process's whole life when started at spawn). */
  cpuSeconds: number;
  peakRssMiB: number;
}

/** Follows one process: CPU at any moment, RSS sampled until stop(). */
export class ResourceSampler {
  private peak = 0;
  private lastCpu = 0;
  private readonly startCpu: number;
  private readonly timer: NodeJS.Timeout;

  constructor(
    readonly pid: number,
    intervalMs = 500,
  ) {
    this.startCpu = cpuSeconds(pid) ?? 0;
    this.lastCpu = this.startCpu;
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.timer.unref();
  }

  /** Reads now; after the process is gone, the last values seen. */
  read(): ResourceReading {
    this.sample();
    return { cpuSeconds: this.lastCpu - this.startCpu, peakRssMiB: this.peak };
  }

  stop(): ResourceReading {
    const r = this.read();
    clearInterval(this.timer);
    return r;
  }

  private sample(): void {
    const cpu = cpuSeconds(this.pid);
    if (cpu !== undefined) this.lastCpu = cpu;
    const mem = memoryMiB(this.pid);
    if (mem) this.peak = Math.max(this.peak, mem.rss, mem.hwm);
  }
}
