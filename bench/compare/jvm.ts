/**
 * How this benchmark starts Kafka's own Java programs (MirrorMaker 2, ProducerPerformance,
 * ConsumerPerformance): the JDK the brokers run on, the jars `georeplica fetch` put in
 * .cache/jvm/kafka/lib, a fixed heap, and a log4j2 configuration of their own, so their logs go
 * to the run's files and nothing is read from a stray log4j file on the classpath.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { libDir } from '../../topology/runtime/fetch.ts';
import { findJdk } from '../../topology/runtime/jdk.ts';
import type { Jdk } from '../../topology/runtime/jdk.ts';

export function kafkaJdk(): Jdk {
  return findJdk(17, 'MirrorMaker 2 and the Kafka tools', 'GEOREPLICA_KAFKA_JAVA_HOME');
}

/** log4j2 properties: `level` for everything, to stdout (the process's log file). */
export function writeLog4j(file: string, level: 'INFO' | 'WARN', quieter: readonly string[] = []): void {
  const lines = [
    `rootLogger.level=${level}`,
    'rootLogger.appenderRef.stdout.ref=STDOUT',
    'appender.stdout.type=Console',
    'appender.stdout.name=STDOUT',
    'appender.stdout.layout.type=PatternLayout',
    'appender.stdout.layout.pattern=[%d] %p %m (%c)%n',
    // Client config dumps and similar chatter, one logger per entry.
    ...quieter.flatMap((name, i) => [`logger.q${i}.name=${name}`, `logger.q${i}.level=WARN`]),
  ];
  writeFileSync(file, `${lines.join('\n')}\n`);
}

export function javaArgs(o: { heapMb: number; log4jFile: string; mainClass: string; args: string[] }): string[] {
  return [
    `-Xms${o.heapMb}m`,
    `-Xmx${o.heapMb}m`,
    '-XX:+UseG1GC',
    '-XX:+ExitOnOutOfMemoryError',
    '-Djava.awt.headless=true',
    `-Dlog4j2.configurationFile=${o.log4jFile}`,
    '-cp',
    `${libDir('kafka')}/*`,
    o.mainClass,
    ...o.args,
  ];
}

export function log4jPath(dir: string, name: string): string {
  return join(dir, `${name}.log4j2.properties`);
}
