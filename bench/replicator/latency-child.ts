/** Child-process entry of the latency phase (see latency.ts): one input over IPC, one reply. */
import { measureLatency } from './latency.ts';
import type { LatencyInput } from './latency.ts';

process.once('message', (input: LatencyInput) => {
  measureLatency(input).then(
    (result) => process.send?.({ result }, () => process.exit(0)),
    (err: unknown) => process.send?.({ error: err instanceof Error ? err.message : String(err) }, () => process.exit(1)),
  );
});
