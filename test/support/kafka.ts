import type { Consumer, KafkaJS } from '../../core/kafka.ts';

export interface Received {
  partition: number;
  offset: string;
  key: string | undefined;
  value: string | undefined;
  headers: Record<string, string>;
}

/**
 * Runs the consumer until `count` records arrived (or the timeout). The compat layer has no
 * consumer.stop(), so the consumer keeps polling until its owner disconnects it.
 */
export async function collect(consumer: Consumer, count: number, timeoutMs = 30_000): Promise<Received[]> {
  const out: Received[] = [];
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`collected ${out.length} of ${count} records in ${timeoutMs} ms`)), timeoutMs);
    void consumer.run({
      eachMessage: ({ partition, message }: KafkaJS.EachMessagePayload) => {
        out.push({
          partition,
          offset: message.offset,
          key: message.key?.toString(),
          value: message.value?.toString(),
          headers: Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v)])),
        });
        if (out.length >= count) {
          clearTimeout(timer);
          resolve();
        }
        return Promise.resolve();
      },
    });
  });
  return out.slice(0, count);
}
