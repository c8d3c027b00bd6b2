/**
 * `npm run bench:produce-cost`: the CPU a producer spends per copied record, by the way the
 * copy is handed to librdkafka: the shape the replicator used until 2026-12-06 (the
 * KafkaJS-compatible `send`, five provenance headers), the binding's own `produce` with those
 * five headers, the shipped shape (the binding's `produce`, one `georeplica.origin` header), and
 * the ceiling: the binding's `produce` with no header at all. Every variant writes the same
 * records (exactly-once: one transaction per chunk of 10,000 over 6 partitions, the copier's
 * producer settings) to its own topic on one broker, in the same run, interleaved; CPU is the
 * whole process's (librdkafka's threads included), per record. Ratios are to the ceiling.
 *
 *   --records 120000  --size 100  --repeats 3  --keep-regions
 */
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { LibrdKafkaError, MessageHeader, Producer as BindingProducer } from '@confluentinc/kafka-javascript';
import { kafkaClient } from '../../core/kafka.ts';
import type { KafkaClient } from '../../core/kafka.ts';
import { createLogger } from '../../core/logger.ts';
import { COPIER_PRODUCER } from '../../replicator/flow-copier.ts';
import { formatProvenance, H_ORIGIN } from '../../replicator/provenance.ts';
import { PROJECT_ROOT } from '../../topology/runtime/paths.ts';
import { machineInfo } from '../support/machine.ts';
import { acquireRegions } from '../support/regions.ts';
import { round, spread } from '../support/stats.ts';

const { Producer: PlainProducer } = createRequire(import.meta.url)('@confluentinc/kafka-javascript') as { Producer: new (conf: Record<string, unknown>) => BindingProducer };
type Raw = BindingProducer & { setPollInBackground(on: boolean): void; produce(...args: unknown[]): boolean };

const VARIANTS = ['compat-send-5-headers', 'produce-5-headers', 'produce-1-header (shipped)', 'produce-no-header (ceiling)'] as const;
type Variant = (typeof VARIANTS)[number];
const PARTITIONS = 6;
const CHUNK = 10_000;
const REGION = 'eu-west';

const LEGACY = (p: number, offset: number): Record<string, string> => ({
  'georeplica.origin.region': 'us-east',
  'georeplica.origin.topic': 'bench-documents',
  'georeplica.origin.partition': String(p),
  'georeplica.origin.offset': String(offset),
  'georeplica.hops': 'us-east>eu-west',
});

interface Measured {
  cpuUsPerRecord: number;
  recordsPerSec: number;
}

async function main(): Promise<number> {
  const { values: v } = parseArgs({ options: { records: { type: 'string', default: '120000' }, size: { type: 'string', default: '100' }, repeats: { type: 'string', default: '3' }, 'keep-regions': { type: 'boolean', default: false } } });
  const records = Number(v.records);
  const size = Number(v.size);
  const repeats = Number(v.repeats);
  const log = createLogger({ name: 'bench-produce-cost', level: 'error' });
  const regions = await acquireRegions({ regions: [REGION], stateDir: '.regions/bench', portOffset: 5000, keep: v['keep-regions'] ?? false, ownOnly: true, log });
  const bootstrap = regions.deployment.regions[REGION]?.kafka.bootstrap ?? [];
  const kafka = kafkaClient({ bootstrap, clientId: 'bench-produce-cost', log });
  const admin = kafka.admin();
  await admin.connect();
  const machine = machineInfo(regions.brokerPids);
  console.log(`produce cost: ${records} records of ${size} B per variant and repeat, ${repeats} repeats, one broker (${REGION} ${bootstrap.join(',')})`);
  console.log(`machine: ${machine.cores} cores (${machine.cpuModel}), ${machine.memoryGiB} GiB, Node ${machine.node}, JDK ${machine.jdk}, Kafka ${machine.kafka}, kafka-javascript ${machine.kafkaJavascript} (librdkafka ${machine.librdkafka}), load average ${machine.loadAverage1m}`);
  const values = Array.from({ length: 1024 }, () => randomBytes(size));
  const results = new Map<Variant, Measured[]>(VARIANTS.map((x) => [x, []]));
  try {
    for (let repeat = 1; repeat <= repeats; repeat++) {
      // Every repeat in another order, so that drift does not favour one variant.
      const order = VARIANTS.map((_, i) => VARIANTS[(i + repeat - 1) % VARIANTS.length] as Variant);
      for (const variant of order) {
        const topic = `bench-produce-cost-${randomBytes(4).toString('hex')}`;
        await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS, replicationFactor: 1 }] });
        const m = variant === 'compat-send-5-headers' ? await viaCompat(kafka, topic, records, values) : await viaBinding(bootstrap, topic, records, values, variant);
        results.get(variant)?.push(m);
        console.log(`[#${repeat}] ${variant}: ${round(m.cpuUsPerRecord, 2)} µs CPU per record, ${Math.round(m.recordsPerSec)} records/s`);
        await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
      }
    }
  } finally {
    await admin.disconnect().catch(() => undefined);
    await regions.release();
  }
  const ceiling = spread((results.get('produce-no-header (ceiling)') ?? []).map((m) => m.cpuUsPerRecord)).median;
  const rows = VARIANTS.map((variant) => {
    const cpu = spread((results.get(variant) ?? []).map((m) => m.cpuUsPerRecord));
    const rate = spread((results.get(variant) ?? []).map((m) => m.recordsPerSec));
    return { variant, cpuUsPerRecord: cpu, recordsPerSec: rate, cpuOverCeiling: round(cpu.median / ceiling, 2) };
  });
  console.log('\n| variant | µs CPU per record | records/s | CPU ÷ ceiling |\n|---|---|---|---|');
  for (const r of rows) console.log(`| ${r.variant} | ${round(r.cpuUsPerRecord.median, 1)} (${round(r.cpuUsPerRecord.min, 1)}-${round(r.cpuUsPerRecord.max, 1)}) | ${Math.round(r.recordsPerSec.median)} (${Math.round(r.recordsPerSec.min)}-${Math.round(r.recordsPerSec.max)}) | ${r.cpuOverCeiling} |`);
  const stamp = new Date().toISOString().replace(/\.\d+Z$/, 'Z').replace(/:/g, '-');
  const out = join(PROJECT_ROOT, 'bench', 'results', `produce-cost-${stamp}.json`);
  mkdirSync(join(PROJECT_ROOT, 'bench', 'results'), { recursive: true });
  writeFileSync(out, `${JSON.stringify({ command: `npm run bench:produce-cost -- ${process.argv.slice(2).join(' ')}`.trim(), machine, records, size, repeats, rows, samples: Object.fromEntries(results) }, null, 2)}\n`);
  console.log(`wrote ${out}`);
  return 0;
}

/** Each chunk a transaction: produce everything, wait for the deliveries, commit. */
async function measure(records: number, perChunk: (from: number, to: number) => Promise<void>, begin: () => Promise<void>, commit: () => Promise<void>): Promise<Measured> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (let from = 0; from < records; from += CHUNK) {
    await begin();
    await perChunk(from, Math.min(records, from + CHUNK));
    await commit();
  }
  const c = process.cpuUsage(c0);
  const seconds = (performance.now() - t0) / 1000;
  return { cpuUsPerRecord: (c.user + c.system) / records, recordsPerSec: records / seconds };
}

async function viaCompat(kafka: KafkaClient, topic: string, records: number, values: Buffer[]): Promise<Measured> {
  const producer = kafka.producer({ ...COPIER_PRODUCER, kafkaJS: { acks: -1, idempotent: true, transactionalId: `bench-produce-cost-${randomBytes(4).toString('hex')}` } });
  await producer.connect();
  try {
    let txn: Awaited<ReturnType<typeof producer.transaction>> | undefined;
    return await measure(
      records,
      async (from, to) => {
        const t = txn;
        if (!t) throw new Error('no transaction');
        const sends = [];
        for (let p = 0; p < PARTITIONS; p++) {
          const messages = [];
          for (let i = from + p; i < to; i += PARTITIONS) messages.push({ value: values[i % values.length] ?? null, partition: p, timestamp: String(Date.now()), headers: LEGACY(p, i) });
          sends.push(t.send({ topic, messages }));
        }
        await Promise.all(sends);
      },
      async () => {
        txn = await producer.transaction();
      },
      async () => txn?.commit(),
    );
  } finally {
    await producer.disconnect().catch(() => undefined);
  }
}

async function viaBinding(bootstrap: readonly string[], topic: string, records: number, values: Buffer[], variant: Variant): Promise<Measured> {
  const p = new PlainProducer({ 'bootstrap.servers': bootstrap.join(','), ...COPIER_PRODUCER, 'enable.idempotence': true, acks: 'all', 'transactional.id': `bench-produce-cost-${randomBytes(4).toString('hex')}`, dr_cb: true }) as Raw;
  const call = (fn: (cb: (err: LibrdKafkaError | null | undefined) => void) => void): Promise<void> => new Promise((resolve, reject) => fn((err) => (err ? reject(new Error(err.message)) : resolve())));
  await new Promise<void>((resolve, reject) => p.connect({}, (err) => (err ? reject(new Error(err.message)) : resolve())));
  p.setPollInBackground(true);
  await call((cb) => p.initTransactions(30_000, cb));
  let pending = 0;
  let settled: (() => void) | undefined;
  let failure: string | undefined;
  p.on('delivery-report', (err: LibrdKafkaError | null) => {
    if (err) failure ??= err.message;
    if (--pending === 0) settled?.();
  });
  const headersOf = (part: number, i: number): MessageHeader[] | undefined => {
    if (variant === 'produce-5-headers') return Object.entries(LEGACY(part, i)).map(([k, x]) => ({ [k]: x }));
    if (variant === 'produce-1-header (shipped)') return [{ [H_ORIGIN]: formatProvenance(['us-east', 'eu-west'], 'bench-documents', part, i) }];
    return undefined;
  };
  try {
    return await measure(
      records,
      async (from, to) => {
        const delivered = new Promise<void>((resolve) => (settled = resolve));
        for (let part = 0; part < PARTITIONS; part++) {
          for (let i = from + part; i < to; i += PARTITIONS) {
            pending++;
            p.produce(topic, part, values[i % values.length], null, Date.now(), undefined, headersOf(part, i));
          }
        }
        await delivered;
        if (failure) throw new Error(failure);
      },
      () => call((cb) => p.beginTransaction(cb)),
      () => call((cb) => p.commitTransaction(30_000, cb)),
    );
  } finally {
    await new Promise<void>((resolve) => p.disconnect(() => resolve()));
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`bench:produce-cost: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
