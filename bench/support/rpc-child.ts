/**
 * Long-lived child processes driven by request/response over IPC, for benchmarks whose parts
 * must not share an event loop (a load generator, an observer, each service under test), so that
 * one part's work never delays another's timestamps. A child process, not a worker thread: the
 * Kafka client's native addon cannot be loaded in a worker. Its stdout and stderr go to a log file.
 *
 * Parent: `const c = await startRpcChild(url, { name, log })`, `await c.call('method', params)`,
 * `await c.close()`. Child: `serveRpc({ method: async (params) => result, ... })`.
 */
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TSX_IMPORT } from '../../topology/runtime/paths.ts';

interface Request {
  id: number;
  method: string;
  params: unknown;
}

type Reply = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string };

export interface RpcChild {
  readonly name: string;
  readonly pid: number;
  call<T>(method: string, params?: unknown, timeoutMs?: number): Promise<T>;
  /** Calls `shutdown` (when served) and waits for the exit; SIGKILL after `graceMs`. */
  close(graceMs?: number): Promise<void>;
}

const READY = '__rpc_ready__';

export async function startRpcChild(moduleUrl: URL, o: { name: string; logFile: string; args?: string[]; env?: NodeJS.ProcessEnv; readyTimeoutMs?: number }): Promise<RpcChild> {
  mkdirSync(dirname(o.logFile), { recursive: true });
  const fd = openSync(o.logFile, 'a');
  let child: ChildProcess;
  try {
    child = fork(fileURLToPath(moduleUrl), o.args ?? [], { execArgv: ['--import', TSX_IMPORT], stdio: ['ignore', fd, fd, 'ipc'], env: { ...process.env, ...o.env } });
  } finally {
    closeSync(fd);
  }
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  let nextId = 1;
  let exited: string | undefined;
  const failAll = (why: string): void => {
    for (const [id, p] of pending) {
      clearTimeout(p.timer);
      p.reject(new Error(`${o.name}: ${why}`));
      pending.delete(id);
    }
  };
  const exitPromise = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exited = `exited (${signal ?? code}); see ${o.logFile}`;
      failAll(exited);
      resolve();
    });
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${o.name} did not start within ${o.readyTimeoutMs ?? 60_000} ms; see ${o.logFile}`)), o.readyTimeoutMs ?? 60_000);
    const onMessage = (m: unknown): void => {
      if (m !== READY) return;
      clearTimeout(timer);
      child.off('message', onMessage);
      resolve();
    };
    child.on('message', onMessage);
    void exitPromise.then(() => {
      clearTimeout(timer);
      reject(new Error(`${o.name} ${exited ?? 'exited'} before it was ready`));
    });
  });
  child.on('message', (m: Reply) => {
    const p = pending.get(m.id);
    if (!p) return;
    pending.delete(m.id);
    clearTimeout(p.timer);
    if (m.ok) p.resolve(m.result);
    else p.reject(new Error(`${o.name}: ${m.error}`));
  });
  const call = <T>(method: string, params?: unknown, timeoutMs = 120_000): Promise<T> => {
    if (exited) return Promise.reject(new Error(`${o.name}: ${exited}`));
    const id = nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error(`${o.name}: ${method} did not answer within ${timeoutMs} ms`));
      }, timeoutMs);
      pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      child.send({ id, method, params } satisfies Request);
    });
  };
  return {
    name: o.name,
    pid: child.pid ?? -1,
    call,
    async close(graceMs = 30_000) {
      if (exited) return;
      const kill = setTimeout(() => child.kill('SIGKILL'), graceMs);
      try {
        await call('shutdown', undefined, graceMs).catch(() => undefined);
        if (!exited) child.kill('SIGTERM');
        await exitPromise;
      } finally {
        clearTimeout(kill);
      }
    },
  };
}

export type Handlers = Record<string, (params: never) => unknown>;

/**
 * Serves `handlers` to the parent. `shutdown` (if given) runs before the process exits; the
 * process also exits when the parent goes away, so a crashed benchmark leaves no children.
 */
export function serveRpc(handlers: Handlers): void {
  process.on('message', (m: Request) => {
    const handler = handlers[m.method];
    const reply = (r: Reply): void => {
      if (process.connected) process.send?.(r);
    };
    if (m.method === 'shutdown') {
      void Promise.resolve(handler?.(m.params as never))
        .catch((err: unknown) => console.error(`shutdown failed: ${(err as Error).message}`))
        .finally(() => {
          reply({ id: m.id, ok: true, result: null });
          setTimeout(() => process.exit(0), 50);
        });
      return;
    }
    if (!handler) {
      reply({ id: m.id, ok: false, error: `no method ${m.method}` });
      return;
    }
    Promise.resolve()
      .then(() => handler(m.params as never))
      .then(
        (result) => reply({ id: m.id, ok: true, result: result ?? null }),
        (err: unknown) => reply({ id: m.id, ok: false, error: err instanceof Error ? err.message : String(err) }),
      );
  });
  process.once('disconnect', () => {
    void Promise.resolve(handlers['shutdown']?.(undefined as never)).finally(() => process.exit(0));
  });
  process.send?.(READY);
}
