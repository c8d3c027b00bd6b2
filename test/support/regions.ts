/**
 * Test access to the regions the global setup started: the runtime (to kill, pause and
 * restart servers) and client factories whose clients are disconnected after each test.
 */
import { Client as OpenSearchClient } from '@opensearch-project/opensearch';
import { afterEach, inject } from 'vitest';
import type { Admin, Consumer, KafkaClient, Producer } from '../../core/kafka.ts';
import { kafkaClient } from '../../core/kafka.ts';
import { createLogger } from '../../core/logger.ts';
import { LocalRuntime } from '../../topology/runtime/local-runtime.ts';

export function testRuntime(): LocalRuntime {
  return LocalRuntime.attach(inject('regionsStateDir'));
}

/** Clients created through this fixture are closed after every test, pass or fail. */
export function useClients(): {
  runtime: LocalRuntime;
  kafka(region: string): KafkaClient;
  admin(region: string): Promise<Admin>;
  producer(region: string, config?: Parameters<KafkaClient['producer']>[0]): Promise<Producer>;
  consumer(region: string, config: Parameters<KafkaClient['consumer']>[0]): Promise<Consumer>;
  search(region: string): OpenSearchClient;
} {
  const runtime = testRuntime();
  const closers: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    const pending = closers.splice(0).reverse();
    for (const close of pending) await close().catch(() => undefined);
  });
  // librdkafka narrates every reconnect; tests that kill brokers only need its errors.
  const log = createLogger({ name: 'test-kafka', level: 'error' });
  const kafka = (region: string): KafkaClient => kafkaClient({ bootstrap: runtime.deployment.regions[region]?.kafka.bootstrap ?? runtime.resolve(region).map((s) => s.endpoint), clientId: `test-${region}`, log });
  return {
    runtime,
    kafka,
    async admin(region) {
      const a = kafka(region).admin();
      await a.connect();
      closers.push(() => a.disconnect());
      return a;
    },
    async producer(region, config) {
      const p = kafka(region).producer(config);
      await p.connect();
      closers.push(() => p.disconnect());
      return p;
    },
    async consumer(region, config) {
      const c = kafka(region).consumer(config);
      await c.connect();
      closers.push(() => c.disconnect());
      return c;
    },
    search(region) {
      const url = runtime.deployment.regions[region]?.search.url;
      if (!url) throw new Error(`no region ${region}`);
      const client = new OpenSearchClient({ node: url, requestTimeout: 10_000 });
      closers.push(() => client.close());
      return client;
    },
  };
}
