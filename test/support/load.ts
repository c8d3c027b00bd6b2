import type { Producer } from '../../core/kafka.ts';
import { sleep } from '../../core/retry.ts';

/**
 * Writes to `topic` at about `ratePerSec` in batches until stopped; returns the acknowledged
 * count. Used as the "steady load" under which replicators are killed and regions lost.
 */
export function steadyLoad(producer: Producer, topic: string, ratePerSec: number, batch = 50): { stop(): Promise<number>; acked(): number } {
  let acked = 0;
  let running = true;
  let seq = 0;
  const loop = (async () => {
    const interval = (1000 * batch) / ratePerSec;
    while (running) {
      const t0 = Date.now();
      const messages = Array.from({ length: batch }, () => ({ key: `k${seq % 97}`, value: `load-${seq++}` }));
      try {
        await producer.send({ topic, messages });
        acked += batch;
      } catch {
        // Counted only when acknowledged; the caller checks copies against the source itself.
      }
      await sleep(Math.max(0, interval - (Date.now() - t0)));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return acked;
    },
    acked: () => acked,
  };
}
