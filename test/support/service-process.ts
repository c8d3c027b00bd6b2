/**
 * Service processes for tests that must kill, pause or restart them: a project entry point
 * (`replicator/main.ts`, `services/indexer/main.ts`, ...) run through tsx in its own process
 * group, with the test's deployment written to a file. Every process started here is
 * SIGKILLed after the test, pass or fail.
 */
import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import { stringify } from 'yaml';
import type { Deployment } from '../../config/schema.ts';
import { sleep } from '../../core/retry.ts';
import { PROJECT_ROOT, TSX_IMPORT } from '../../topology/runtime/paths.ts';
import { isAlive, waitForExit, waitForState } from '../../topology/runtime/process-control.ts';
import { SERVICE_ENV } from '../../core/service-env.ts';

export interface ServiceProcess {
  readonly pid: number;
  readonly logFile: string;
  kill(): Promise<void>;
  /** SIGTERM (drain), then the exit code. */
  terminate(): Promise<number | null>;
  pause(): Promise<void>;
  resume(): Promise<void>;
  alive(): boolean;
  log(): string;
}

export type SpawnService = (entry: string, deployment: Readonly<Deployment>, args: string[]) => ServiceProcess;

export function useServiceProcesses(): SpawnService {
  const started: ServiceProcess[] = [];
  afterEach(async () => {
    await Promise.all(started.splice(0).map((p) => p.kill()));
  });
  return (entry, deployment, args) => {
    const dir = mkdtempSync(join(tmpdir(), 'georeplica-sp-'));
    const config = join(dir, 'deployment.yaml');
    writeFileSync(config, stringify(deployment));
    const logFile = join(dir, 'service.log');
    const fd = openSync(logFile, 'a');
    const child = spawn(process.execPath, ['--import', TSX_IMPORT, join(PROJECT_ROOT, entry), '--config', config, ...args], {
      cwd: PROJECT_ROOT,
      detached: true,
      stdio: ['ignore', fd, fd],
      env: { ...process.env, ...SERVICE_ENV, GEOREPLICA_LOG_LEVEL: process.env['TEST_LOG_LEVEL'] ?? 'info' },
    });
    closeSync(fd);
    let exitCode: number | null = null;
    child.once('exit', (code) => {
      exitCode = code;
    });
    const pid = child.pid ?? -1;
    const signal = (s: NodeJS.Signals): void => {
      try {
        process.kill(-pid, s);
      } catch {
        // gone
      }
    };
    const proc: ServiceProcess = {
      pid,
      logFile,
      async kill() {
        signal('SIGKILL');
        await waitForExit(pid, 10_000);
      },
      async terminate() {
        signal('SIGTERM');
        signal('SIGCONT');
        await waitForExit(pid, 40_000);
        await sleep(50);
        return exitCode;
      },
      async pause() {
        signal('SIGSTOP');
        await waitForState(pid, 'paused');
      },
      async resume() {
        signal('SIGCONT');
        await waitForState(pid, 'running');
      },
      alive: () => isAlive(pid),
      log: () => readFileSync(logFile, 'utf8'),
    };
    started.push(proc);
    return proc;
  };
}

/** A TCP port free right now (the OS picks it), for a process that must keep its port across restarts. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
