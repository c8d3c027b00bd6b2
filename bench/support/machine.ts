/** What a benchmark ran on: the machine, the runtimes and the library versions, for the report. */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import kafkaJs from '@confluentinc/kafka-javascript';
import { libDir } from '../../topology/runtime/fetch.ts';
import { findJdk } from '../../topology/runtime/jdk.ts';
import { PROJECT_ROOT } from '../../topology/runtime/paths.ts';

export interface MachineInfo {
  cores: number;
  cpuModel: string;
  memoryGiB: number;
  kernel: string;
  node: string;
  /** The JDK the brokers run on. */
  jdk: string;
  kafka: string;
  kafkaJavascript: string;
  librdkafka: string;
  loadAverage1m: number;
}

function jdkOfPid(pid: number): string | undefined {
  try {
    const java = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0];
    return java ? describeJdk(dirname(dirname(java))) : undefined;
  } catch {
    return undefined;
  }
}

function describeJdk(home: string): string | undefined {
  const file = join(home, 'release');
  if (!existsSync(file)) return undefined;
  const text = readFileSync(file, 'utf8');
  const field = (name: string): string | undefined => new RegExp(`^${name}="([^"]*)"`, 'm').exec(text)?.[1];
  const version = field('JAVA_VERSION');
  const vendor = field('IMPLEMENTOR');
  return version ? `${vendor ? `${vendor} ` : ''}${version}` : undefined;
}

function kafkaVersion(): string {
  try {
    const jar = readdirSync(libDir('kafka')).find((f) => /^kafka-server-[\d.]+\.jar$/.test(f));
    return jar?.replace(/^kafka-server-/, '').replace(/\.jar$/, '') ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

export function machineInfo(brokerPids: readonly number[]): MachineInfo {
  const c = cpus();
  const pkg = JSON.parse(readFileSync(join(PROJECT_ROOT, 'node_modules', '@confluentinc', 'kafka-javascript', 'package.json'), 'utf8')) as { version?: string };
  let jdk = brokerPids.map(jdkOfPid).find((j) => j !== undefined);
  if (!jdk) {
    try {
      jdk = describeJdk(findJdk(17, 'the Kafka brokers', 'GEOREPLICA_KAFKA_JAVA_HOME').home);
    } catch {
      jdk = undefined;
    }
  }
  return {
    cores: c.length,
    cpuModel: c[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    kernel: release(),
    node: process.version,
    jdk: jdk ?? 'unknown',
    kafka: kafkaVersion(),
    kafkaJavascript: pkg.version ?? 'unknown',
    librdkafka: kafkaJs.librdkafkaVersion,
    loadAverage1m: Math.round((loadavg()[0] ?? 0) * 100) / 100,
  };
}
