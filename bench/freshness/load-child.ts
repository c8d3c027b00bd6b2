/** Child-process entry of the fixed-rate writer (load-generator.ts), driven over IPC. */
import { serveRpc } from '../support/rpc-child.ts';
import { LoadGenerator } from './load-generator.ts';
import type { LoadPlan, LoadResult } from './load-generator.ts';

let current: LoadGenerator | undefined;

serveRpc({
  start(plan: LoadPlan): void {
    current = new LoadGenerator(plan);
    current.start();
  },
  finish({ timeoutMs }: { timeoutMs: number }): Promise<LoadResult> {
    if (!current) throw new Error('no load running');
    return current.finish(timeoutMs);
  },
});
