/**
 * Runs a TypeScript module in a child Node process (tsx registered), hands it one input over
 * IPC and resolves with the first message it sends back. A child, not a worker thread: the
 * Kafka client's native addon cannot be loaded in a worker.
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { SERVICE_ENV } from '../../core/service-env.ts';
import { TSX_IMPORT } from '../../topology/runtime/paths.ts';

export function runInChild<T>(moduleUrl: URL, input: unknown, timeoutMs: number): Promise<T> {
  // The environment a deployed service gets (UV_THREADPOOL_SIZE), so that services run here as they do there.
  const child = fork(fileURLToPath(moduleUrl), [], { execArgv: ['--import', TSX_IMPORT], stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env: { ...process.env, ...SERVICE_ENV } });
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const finish = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      fn();
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    };
    const timer = setTimeout(() => finish(() => reject(new Error(`${moduleUrl.pathname} did not report within ${timeoutMs} ms`))), timeoutMs);
    child.once('message', (m) => finish(() => resolve(m as T)));
    child.once('error', (err) => finish(() => reject(err)));
    child.once('exit', (code, signal) => finish(() => reject(new Error(`${moduleUrl.pathname} exited (${signal ?? code}) before reporting`))));
    child.send(input as object);
  });
}
