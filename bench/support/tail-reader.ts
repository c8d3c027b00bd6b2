/**
 * Reads what is appended to a topic from now on, read_committed, through the binding's own
 * consumer with its partitions assigned by hand (no group): the lightest reader this process
 * has, for measuring on the machine it measures. A fetch is answered as soon as one record is
 * there (or after fetch.wait.max.ms), and each call hands over what arrived, with the time it
 * reached JavaScript.
 */
import { createRequire } from 'node:module';
import type { KafkaConsumer, LibrdKafkaError, Message } from '@confluentinc/kafka-javascript';
import { bindingError } from '../../core/kafka.ts';

const { KafkaConsumer: PlainKafkaConsumer } = createRequire(import.meta.url)('@confluentinc/kafka-javascript') as { KafkaConsumer: new (conf: Record<string, unknown>, topicConf: Record<string, unknown>) => KafkaConsumer };
type Plain = KafkaConsumer & { incrementalAssign(tps: Array<{ topic: string; partition: number; offset: number }>): void; setDefaultIsTimeoutOnlyForFirstMessage(only: boolean): void };

/** librdkafka's logical offset "end". */
const END = -1;

export interface TailReader {
  stop(): Promise<void>;
}

export async function tailTopic(bootstrap: readonly string[], topic: string, o: { partitions: number; fetchWaitMs: number; onMessages: (messages: Message[], at: number) => void }): Promise<TailReader> {
  const c = new PlainKafkaConsumer(
    {
      'bootstrap.servers': bootstrap.join(','),
      'client.id': 'bench-tail',
      // Names the client only: nothing joins a group or commits.
      'group.id': `bench-tail-${topic}`,
      'isolation.level': 'read_committed',
      'enable.auto.commit': false,
      'enable.partition.eof': false,
      'fetch.wait.max.ms': o.fetchWaitMs,
    },
    {},
  ) as Plain;
  await new Promise<void>((resolve, reject) => c.connect({ timeout: 10_000 }, (err: LibrdKafkaError | null) => (err ? reject(bindingError(err)) : resolve())));
  c.setDefaultConsumeTimeout(100);
  c.setDefaultIsTimeoutOnlyForFirstMessage(true);
  c.incrementalAssign(Array.from({ length: o.partitions }, (_, partition) => ({ topic, partition, offset: END })));
  let stopping = false;
  const loop = (async () => {
    while (!stopping) {
      const messages = await new Promise<Message[]>((resolve) => c.consume(10_000, (err, ms) => resolve(err ? [] : ms)));
      if (messages.length > 0) o.onMessages(messages, performance.now());
    }
  })();
  return {
    async stop() {
      stopping = true;
      await loop;
      await new Promise<void>((resolve) => c.disconnect(() => resolve()));
    },
  };
}
