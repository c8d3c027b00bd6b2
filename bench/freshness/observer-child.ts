/** Child-process entry of the search observer (search-observer.ts), driven over IPC. */
import { serveRpc } from '../support/rpc-child.ts';
import { SearchObserver } from './search-observer.ts';
import type { RegionSeen, WatchPlan } from './search-observer.ts';

let current: SearchObserver | undefined;

serveRpc({
  start(plan: WatchPlan): void {
    current = new SearchObserver(plan);
    current.start();
  },
  finish({ timeoutMs, expected }: { timeoutMs: number; expected?: number[] }): Promise<RegionSeen[]> {
    if (!current) throw new Error('no observation running');
    return current.finish(timeoutMs, expected);
  },
});
