/**
 * One Kafka broker of a region's cluster in KRaft mode. Every node is broker and controller
 * (combined mode), with static voters, so a 3-node region keeps a quorum when one dies.
 */
import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GeoError } from '../../core/errors.ts';
import { splitHostPort } from '../../config/cross-checks.ts';
import { libDir } from './fetch.ts';
import type { Jdk } from './jdk.ts';
import { tcpOpen } from './probes.ts';
import { stateMarker } from './server-spec.ts';
import type { ServerSpec } from './server-spec.ts';

export interface KafkaNodeOptions {
  region: string;
  /** Index of this broker in the region's bootstrap list; node.id is index + 1. */
  index: number;
  bootstrap: readonly string[];
  stateDir: string;
  heapMb: number;
  /** Extra JVM options (runtime.jit). */
  jvmOptions: readonly string[];
  jdk: Jdk;
  /**
   * Extra listeners, one per link proxy that fronts this broker (config/link-plan.ts): clients of
   * another region reach it through the proxy, and metadata they fetch names the proxy again.
   */
  links?: readonly KafkaLinkListener[];
}

export interface KafkaLinkListener {
  /** e.g. FROM_EU_WEST. */
  name: string;
  /** The port this broker binds for the listener. */
  port: number;
  /** What metadata returns for it: the link proxy's host:port. */
  advertised: string;
}

// WARN, but for the lifecycle lines (readiness is the "Kafka Server started" line): at INFO a
// broker of the test runtime writes ~100 000 lines an hour (log loading, controller records).
const LOG4J = `rootLogger.level=WARN
rootLogger.appenderRef.stdout.ref=STDOUT
appender.stdout.type=Console
appender.stdout.name=STDOUT
appender.stdout.layout.type=PatternLayout
appender.stdout.layout.pattern=[%d] %p %m (%c)%n
logger.kafka.name=kafka
logger.kafka.level=WARN
logger.raftserver.name=kafka.server.KafkaRaftServer
logger.raftserver.level=INFO
logger.broker.name=kafka.server.BrokerServer
logger.broker.level=INFO
logger.state.name=state.change.logger
logger.state.level=WARN
logger.req.name=kafka.request.logger
logger.req.level=WARN
`;

export function kafkaServerName(region: string, index: number): string {
  return `${region}/kafka-${index}`;
}

export function kafkaServerSpec(o: KafkaNodeOptions): ServerSpec {
  const n = o.bootstrap.length;
  const [host, port] = splitHostPort(o.bootstrap[o.index] as string);
  const controllerPort = port + 1;
  const regionDir = join(o.stateDir, o.region);
  const dir = join(regionDir, `kafka-${o.index}`);
  const dataDir = join(dir, 'data');
  const propsFile = join(dir, 'server.properties');
  const log4jFile = join(dir, 'log4j2.properties');
  const voters = o.bootstrap.map((addr, i) => {
    const [h, p] = splitHostPort(addr);
    return `${i + 1}@${h}:${p + 1}`;
  });
  const links = o.links ?? [];
  const rf = Math.min(3, n);
  const minIsr = n >= 3 ? 2 : 1;
  // Thread counts are cut to fit several brokers and search nodes on two cores.
  const props: Record<string, string | number> = {
    'process.roles': 'broker,controller',
    'node.id': o.index + 1,
    'controller.quorum.voters': voters.join(','),
    listeners: [`PLAINTEXT://${host}:${port}`, `CONTROLLER://${host}:${controllerPort}`, ...links.map((l) => `${l.name}://${host}:${l.port}`)].join(','),
    'advertised.listeners': [`PLAINTEXT://${host}:${port}`, ...links.map((l) => `${l.name}://${l.advertised}`)].join(','),
    'controller.listener.names': 'CONTROLLER',
    'listener.security.protocol.map': ['PLAINTEXT:PLAINTEXT', 'CONTROLLER:PLAINTEXT', ...links.map((l) => `${l.name}:PLAINTEXT`)].join(','),
    'inter.broker.listener.name': 'PLAINTEXT',
    'log.dirs': dataDir,
    'num.partitions': 1,
    'default.replication.factor': rf,
    'min.insync.replicas': minIsr,
    'offsets.topic.replication.factor': rf,
    'offsets.topic.num.partitions': 6,
    'transaction.state.log.replication.factor': rf,
    'transaction.state.log.min.isr': minIsr,
    'transaction.state.log.num.partitions': 6,
    'share.coordinator.state.topic.replication.factor': rf,
    'share.coordinator.state.topic.min.isr': minIsr,
    'group.initial.rebalance.delay.ms': 0,
    'auto.create.topics.enable': 'false',
    'unclean.leader.election.enable': 'false',
    'num.network.threads': 2,
    'num.io.threads': 2,
    'background.threads': 2,
    'num.replica.fetchers': 1,
    'num.recovery.threads.per.data.dir': 1,
    'log.cleaner.threads': 1,
    'log.segment.bytes': 64 * 1024 * 1024,
    // Faster failure detection than the defaults (30 s / 9 s), so chaos runs stay short;
    // still well above what a loaded two-core machine needs to keep a healthy broker in.
    'replica.lag.time.max.ms': 10_000,
    'broker.session.timeout.ms': 6_000,
    'broker.heartbeat.interval.ms': 1_000,
  };
  const clusterIdFile = join(regionDir, 'kafka-cluster-id');
  const spec: ServerSpec = {
    name: kafkaServerName(o.region, o.index),
    region: o.region,
    kind: 'kafka',
    command: o.jdk.java,
    args: [
      `-Xms${o.heapMb}m`,
      `-Xmx${o.heapMb}m`,
      '-XX:+UseG1GC',
      '-XX:MaxGCPauseMillis=20',
      ...o.jvmOptions,
      '-XX:+ExitOnOutOfMemoryError',
      '-Djava.awt.headless=true',
      `-Dlog4j2.configurationFile=${log4jFile}`,
      `-D${stateMarker(o.stateDir)}`,
      '-cp',
      `${libDir('kafka')}/*`,
      'kafka.Kafka',
      propsFile,
    ],
    dir,
    logFile: join(dir, 'server.log'),
    ports: [port, controllerPort, ...links.map((l) => l.port)],
    endpoint: `${host}:${port}`,
    async prepare() {
      mkdirSync(dataDir, { recursive: true });
      writeFileSync(propsFile, Object.entries(props).map(([k, v]) => `${k}=${v}`).join('\n') + '\n');
      writeFileSync(log4jFile, LOG4J);
      if (existsSync(join(dataDir, 'meta.properties'))) return;
      const clusterId = readOrCreateClusterId(clusterIdFile);
      await runJava(o.jdk.java, ['-Xmx128m', `-Dlog4j2.configurationFile=${log4jFile}`, '-cp', `${libDir('kafka')}/*`, 'kafka.tools.StorageTool', 'format', '--ignore-formatted', `--cluster-id=${clusterId}`, '-c', propsFile], `formatting storage of ${kafkaServerName(o.region, o.index)}`);
    },
    async probeReady(logSince) {
      return logSince.includes('Kafka Server started') && (await tcpOpen(host, port));
    },
    async probeHealth() {
      const ok = await tcpOpen(host, port);
      return { ok, detail: ok ? 'accepting connections' : 'not accepting connections' };
    },
  };
  return spec;
}

function readOrCreateClusterId(file: string): string {
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  // A KRaft cluster id is a 16-byte UUID in URL-safe base64 without padding (22 chars).
  // Kafka's own generator never starts one with '-': the storage tool's argument parser
  // would read it as an option (this broke a CI run). The `--cluster-id=` form above guards too.
  let id = randomBytes(16).toString('base64url');
  while (id.startsWith('-')) id = randomBytes(16).toString('base64url');
  try {
    writeFileSync(file, `${id}\n`, { flag: 'wx' });
    return id;
  } catch {
    // Another broker of the region won the race; all of them must share its id.
    return readFileSync(file, 'utf8').trim();
  }
}

function runJava(java: string, args: string[], what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(java, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (out += b.toString()));
    child.once('error', (cause) => reject(new GeoError('RUNTIME_COMMAND_FAILED', `${what} failed to spawn: ${cause.message}`, { cause })));
    child.once('exit', (code) => {
      if (code === 0) resolve();
      else reject(new GeoError('RUNTIME_COMMAND_FAILED', `${what} exited with ${code}:\n${out.trim().split('\n').slice(-10).join('\n')}`));
    });
  });
}
