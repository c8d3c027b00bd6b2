/** Child-process entry of the Kafka stage probe (kafka-probe.ts), driven over IPC. */
import { createLogger } from '../../core/logger.ts';
import { serveRpc } from '../support/rpc-child.ts';
import { KafkaProbe } from './kafka-probe.ts';
import type { ProbeTarget, ProbeWatch } from './kafka-probe.ts';

let probe: KafkaProbe | undefined;

serveRpc({
  async start({ targets }: { targets: ProbeTarget[] }): Promise<void> {
    probe = new KafkaProbe(targets, createLogger({ name: 'bench-probe', level: 'error', destination: process.stdout }));
    await probe.start();
  },
  watch: (w: ProbeWatch) => probe?.startWatch(w),
  collect: () => probe?.collect() ?? {},
  shutdown: () => probe?.stop(),
});
