/**
 * A replicator under test as an operating-system process of its own (ours: replicator/main.ts;
 * MirrorMaker 2: its JVM), so it can be SIGKILLed like in production and its CPU and memory
 * measured alone. Output goes to a log file; resources are sampled from spawn to exit.
 */
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { ResourceSampler } from '../support/process-resources.ts';
import type { ResourceReading } from '../support/process-resources.ts';

export type ReplicatorKind = 'ours' | 'mm2';

export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ReplicatorProcess {
  readonly kind: ReplicatorKind;
  readonly pid: number;
  readonly logFile: string;
  /** performance.now() at spawn. */
  readonly spawnedAt: number;
  readonly resources: ResourceSampler;
  readonly exited: Promise<ProcessExit>;
  running(): boolean;
  /** SIGKILL, resolved when the process is gone; returns its resources as last seen. */
  kill(): Promise<ResourceReading>;
  /** SIGTERM, then SIGKILL after `graceMs`; returns its resources as last seen. */
  stop(graceMs?: number): Promise<ResourceReading & { graceful: boolean }>;
}

export function spawnReplicator(o: { kind: ReplicatorKind; command: string; args: string[]; cwd: string; logFile: string; env?: NodeJS.ProcessEnv }): ReplicatorProcess {
  mkdirSync(dirname(o.logFile), { recursive: true });
  const fd = openSync(o.logFile, 'a');
  const child = (() => {
    try {
      return spawn(o.command, o.args, { cwd: o.cwd, stdio: ['ignore', fd, fd], env: { ...process.env, ...o.env } });
    } finally {
      closeSync(fd);
    }
  })();
  const pid = child.pid;
  if (pid === undefined) throw new Error(`${o.kind}: could not spawn ${o.command}; see ${o.logFile}`);
  const spawnedAt = performance.now();
  const resources = new ResourceSampler(pid);
  let alive = true;
  const exited = new Promise<ProcessExit>((resolve) => {
    child.once('exit', (code, signal) => {
      alive = false;
      resolve({ code, signal });
    });
  });
  const last = async (): Promise<ResourceReading> => {
    await exited;
    return resources.stop();
  };
  return {
    kind: o.kind,
    pid,
    logFile: o.logFile,
    spawnedAt,
    resources,
    exited,
    running: () => alive,
    async kill() {
      // Read just before the kill: /proc/<pid> is gone right after it.
      resources.read();
      if (alive) child.kill('SIGKILL');
      return last();
    },
    async stop(graceMs = 30_000) {
      if (!alive) return { ...(await last()), graceful: false };
      resources.read();
      child.kill('SIGTERM');
      let forced = false;
      const timer = setTimeout(() => {
        forced = true;
        resources.read();
        child.kill('SIGKILL');
      }, graceMs);
      try {
        return { ...(await last()), graceful: !forced };
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
