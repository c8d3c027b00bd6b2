/**
 * Kafka's own throughput tools from kafka-tools (the jar fetched with the brokers), as the
 * ceiling: `org.apache.kafka.tools.ProducerPerformance` writes N records into the target while
 * `org.apache.kafka.tools.ConsumerPerformance` reads the N-record backlog from the source.
 *
 * ProducerPerformance cannot write our records (sequence number and run tag in the value), so it
 * gets records of the same size and the same incompressibility: a payload file of distinct
 * random lines drawn from a 64-character alphabet, from which it picks one per record.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { javaArgs, kafkaJdk, log4jPath, writeLog4j } from './jvm.ts';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** Enough distinct payloads that lz4's 64 KiB window rarely sees one twice. */
const PAYLOADS = 20_000;

/** A file of PAYLOADS lines of exactly `size` random characters each (written once per size and directory). */
export function payloadFile(dir: string, size: number): string {
  const file = join(dir, `payloads-${size}.txt`);
  if (existsSync(file)) return file;
  const lines: string[] = [];
  for (let i = 0; i < PAYLOADS; i++) {
    const bytes = randomBytes(size);
    let line = '';
    for (const b of bytes) line += ALPHABET[b & 63];
    lines.push(line);
  }
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

export interface JavaRun {
  stdout: string;
  seconds: number;
}

function runJavaTool(o: { dir: string; name: string; mainClass: string; args: string[]; heapMb: number; timeoutMs: number }): Promise<JavaRun> {
  const log4j = log4jPath(o.dir, o.name);
  writeLog4j(log4j, 'WARN');
  const t0 = performance.now();
  const child = spawn(kafkaJdk().java, javaArgs({ heapMb: o.heapMb, log4jFile: log4j, mainClass: o.mainClass, args: o.args }), { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr.on('data', (b: Buffer) => (err += b.toString()));
  return new Promise<JavaRun>((resolve, reject) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`${o.mainClass}: ${e.message}`));
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      writeFileSync(join(o.dir, `${o.name}.log`), `${out}\n--- stderr ---\n${err}`);
      if (code === 0) resolve({ stdout: out, seconds: (performance.now() - t0) / 1000 });
      else reject(new Error(`${o.mainClass} exited with ${signal ?? code}${signal === 'SIGKILL' ? ` (timeout ${o.timeoutMs / 1000} s)` : ''}: ${(err || out).trim().split('\n').slice(-5).join(' | ')}`));
    });
  });
}

export interface ProducerPerfResult {
  records: number;
  recordsPerSec: number;
  avgLatencyMs: number;
  maxLatencyMs: number;
  /** Wall time of the JVM, startup included (the rate above is the tool's own, from its first send). */
  processSeconds: number;
}

export async function producerPerformance(o: { dir: string; name: string; bootstrap: readonly string[]; topic: string; records: number; payloadFile: string; props: Record<string, string | number | boolean>; heapMb: number; timeoutMs: number }): Promise<ProducerPerfResult> {
  const run = await runJavaTool({
    dir: o.dir,
    name: o.name,
    mainClass: 'org.apache.kafka.tools.ProducerPerformance',
    heapMb: o.heapMb,
    timeoutMs: o.timeoutMs,
    args: ['--bootstrap-server', o.bootstrap.join(','), '--topic', o.topic, '--num-records', String(o.records), '--throughput', '-1', '--payload-file', o.payloadFile, '--command-property', ...Object.entries(o.props).map(([k, v]) => `${k}=${v}`)],
  });
  // e.g. "2000000 records sent, 48123.4 records/sec (47.00 MB/sec), 512.34 ms avg latency, 1234.00 ms max latency, ..."
  const lines = run.stdout.trim().split('\n').filter((l) => / records sent, /.test(l));
  const m = /(\d+) records sent, ([\d.]+) records\/sec \([\d.]+ MB\/sec\), ([\d.]+) ms avg latency, ([\d.]+) ms max latency/.exec(lines[lines.length - 1] ?? '');
  if (!m) throw new Error(`ProducerPerformance: no summary line in its output (see ${join(o.dir, `${o.name}.log`)})`);
  return { records: Number(m[1]), recordsPerSec: Number(m[2]), avgLatencyMs: Number(m[3]), maxLatencyMs: Number(m[4]), processSeconds: run.seconds };
}

export interface ConsumerPerfResult {
  records: number;
  /** Records per second over the fetch time (the group join excluded), as the tool reports it. */
  recordsPerSec: number;
  /** Records per second including the group join. */
  recordsPerSecWithJoin: number;
  rebalanceMs: number;
  fetchMs: number;
  processSeconds: number;
}

export async function consumerPerformance(o: { dir: string; name: string; bootstrap: readonly string[]; topic: string; records: number; group: string; props: Record<string, string | number | boolean>; heapMb: number; timeoutMs: number }): Promise<ConsumerPerfResult> {
  const run = await runJavaTool({
    dir: o.dir,
    name: o.name,
    mainClass: 'org.apache.kafka.tools.ConsumerPerformance',
    heapMb: o.heapMb,
    timeoutMs: o.timeoutMs,
    args: ['--bootstrap-server', o.bootstrap.join(','), '--topic', o.topic, '--num-records', String(o.records), '--group', o.group, '--timeout', '30000', ...Object.entries(o.props).flatMap(([k, v]) => ['--command-property', `${k}=${v}`])],
  });
  // header: start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec
  const lines = run.stdout.trim().split('\n');
  const header = lines.findIndex((l) => l.startsWith('start.time'));
  const cols = (lines[header + 1] ?? '').split(',').map((s) => s.trim());
  const num = (i: number): number => Number(cols[i]);
  if (header < 0 || cols.length < 10 || !Number.isFinite(num(4))) throw new Error(`ConsumerPerformance: no result line in its output (see ${join(o.dir, `${o.name}.log`)})`);
  return { records: num(4), recordsPerSecWithJoin: num(5), rebalanceMs: num(6), fetchMs: num(7), recordsPerSec: num(9), processSeconds: run.seconds };
}
