/**
 * Preload for profiling our replicator process without editing it (`--profile-ours`):
 * `node --import tsx --import bench/compare/rdkafka-stats.ts replicator/main.ts ...`.
 * Every Kafka producer and consumer the process creates gets librdkafka statistics once a second;
 * a summary line per client and interval is appended to $GEOREPLICA_BENCH_RDKAFKA_STATS (JSON
 * lines): queue depths, batch sizes, and per broker the internal queue latency, the output-buffer
 * latency and the round-trip time (µs, p50/p99), which tell where a record waits. A consumer's
 * partitions forward to one shared fetch queue and each reports that queue's count, so `fetchq`
 * is their maximum, not their sum.
 */
import { appendFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { KafkaJS } from '@confluentinc/kafka-javascript';

const file = process.env['GEOREPLICA_BENCH_RDKAFKA_STATS'];

interface Window {
  p50?: number;
  p99?: number;
  avg?: number;
  cnt?: number;
}

interface BrokerStats {
  nodeid?: number;
  outbuf_cnt?: number;
  waitresp_cnt?: number;
  int_latency?: Window;
  outbuf_latency?: Window;
  rtt?: Window;
  txmsgs?: number;
  rxmsgs?: number;
}

interface Stats {
  name?: string;
  type?: string;
  ts?: number;
  msg_cnt?: number;
  msg_size?: number;
  txmsgs?: number;
  rxmsgs?: number;
  brokers?: Record<string, BrokerStats>;
  topics?: Record<string, { batchsize?: Window; batchcnt?: Window; partitions?: Record<string, { fetchq_cnt?: number; msgq_cnt?: number; xmit_msgq_cnt?: number }> }>;
}

function summarize(raw: unknown): unknown {
  const text = typeof raw === 'string' ? raw : (raw as { message?: string }).message;
  if (!text) return undefined;
  const s = JSON.parse(text) as Stats;
  const brokers = Object.values(s.brokers ?? {})
    .filter((b) => (b.nodeid ?? -1) >= 0)
    .map((b) => ({ node: b.nodeid, outbuf: b.outbuf_cnt, waitresp: b.waitresp_cnt, intLatencyUs: [b.int_latency?.p50, b.int_latency?.p99], outbufLatencyUs: [b.outbuf_latency?.p50, b.outbuf_latency?.p99], rttUs: [b.rtt?.p50, b.rtt?.p99], txmsgs: b.txmsgs, rxmsgs: b.rxmsgs }));
  const topics = Object.entries(s.topics ?? {}).map(([name, t]) => {
    const parts = Object.entries(t.partitions ?? {}).filter(([p]) => p !== '-1');
    return { name, batchSizeAvg: t.batchsize?.avg, batchCntAvg: t.batchcnt?.avg, fetchq: parts.reduce((a, [, p]) => Math.max(a, p.fetchq_cnt ?? 0), 0), msgq: parts.reduce((a, [, p]) => a + (p.msgq_cnt ?? 0) + (p.xmit_msgq_cnt ?? 0), 0) };
  });
  return { at: Date.now(), name: s.name, type: s.type, msgCnt: s.msg_cnt, msgSize: s.msg_size, txmsgs: s.txmsgs, rxmsgs: s.rxmsgs, brokers, topics };
}

type BindingClass = new (conf: Record<string, unknown>, topicConf?: Record<string, unknown>) => { on(event: 'event.stats', cb: (raw: unknown) => void): unknown };

function install(target: string): void {
  const record = (raw: unknown): void => {
    try {
      const line = summarize(raw);
      if (line) appendFileSync(target, `${JSON.stringify(line)}\n`);
    } catch {
      // A statistics line that cannot be read is dropped; the process under test must not fail.
    }
  };
  // The KafkaJS-compatible clients (admin, heartbeats, translation).
  const proto = KafkaJS.Kafka.prototype as unknown as Record<string, (this: unknown, config?: Record<string, unknown>) => unknown>;
  for (const method of ['producer', 'consumer'] as const) {
    const orig = proto[method] as (this: unknown, config?: Record<string, unknown>) => unknown;
    proto[method] = function (this: unknown, config?: Record<string, unknown>) {
      return orig.call(this, { ...(config ?? {}), 'statistics.interval.ms': 1_000, stats_cb: record });
    };
  }
  // The binding's own clients, which the hot path uses since 2026-12-06 (the copy producer, the
  // source reader, the checkpoint member): they take their classes from the CommonJS module
  // object when they are imported, after this preload has replaced them there.
  const binding = createRequire(import.meta.url)('@confluentinc/kafka-javascript') as Record<'Producer' | 'KafkaConsumer', BindingClass>;
  for (const name of ['Producer', 'KafkaConsumer'] as const) {
    const Orig = binding[name];
    binding[name] = class extends Orig {
      constructor(conf: Record<string, unknown>, topicConf?: Record<string, unknown>) {
        super({ ...conf, 'statistics.interval.ms': 1_000 }, topicConf);
        this.on('event.stats', record);
      }
    };
  }
}

if (file) install(file);
