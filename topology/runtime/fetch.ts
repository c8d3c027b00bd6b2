/**
 * Fetches the JVM servers from Maven Central into the cache, driven by the poms in jvm/.
 * A stamp records the pom's hash, so editing a pom refetches and an unchanged one is free.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GeoError } from '../../core/errors.ts';
import type { Logger } from '../../core/logger.ts';
import { findJdk } from './jdk.ts';
import { JVM_CACHE, PROJECT_ROOT } from './paths.ts';

export type JvmModule = 'kafka' | 'opensearch';
export const JVM_MODULES: readonly JvmModule[] = ['kafka', 'opensearch'];

export function libDir(module: JvmModule): string {
  return join(JVM_CACHE, module, 'lib');
}

export function classesDir(module: JvmModule): string {
  return join(JVM_CACHE, module, 'classes');
}

function manifestHash(module: JvmModule): string {
  const h = createHash('sha256');
  const dir = join(PROJECT_ROOT, 'jvm', module);
  h.update(readFileSync(join(dir, 'pom.xml')));
  const src = join(dir, 'src');
  if (existsSync(src)) for (const f of readdirSync(src).sort()) h.update(f).update(readFileSync(join(src, f)));
  return h.digest('hex');
}

function stampPath(module: JvmModule): string {
  return join(JVM_CACHE, module, 'stamp');
}

export function isFetched(module: JvmModule): boolean {
  const stamp = stampPath(module);
  return existsSync(stamp) && readFileSync(stamp, 'utf8').trim() === manifestHash(module);
}

function run(cmd: string, args: string[], what: string): void {
  const res = spawnSync(cmd, args, { cwd: PROJECT_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (res.error || res.status !== 0) {
    const out = `${res.stdout ?? ''}${res.stderr ?? ''}`.trim().split('\n').slice(-15).join('\n');
    throw new GeoError('RUNTIME_COMMAND_FAILED', `${what} failed (${cmd} ${args.join(' ')}):\n${out || String(res.error)}`, { cause: res.error });
  }
}

export function fetchModule(module: JvmModule, log: Logger): void {
  if (isFetched(module)) return;
  const started = Date.now();
  log.info({ module }, 'fetching JVM jars from Maven Central');
  const lib = libDir(module);
  rmSync(join(JVM_CACHE, module), { recursive: true, force: true });
  mkdirSync(lib, { recursive: true });
  run('mvn', ['-q', '-B', '-f', join('jvm', module, 'pom.xml'), 'dependency:copy-dependencies', `-DoutputDirectory=${lib}`, '-DincludeScope=runtime'], `Maven fetch of jvm/${module}`);
  const src = join(PROJECT_ROOT, 'jvm', module, 'src');
  if (existsSync(src)) {
    // Compiled once here rather than with java's source launcher, which recompiles on every start.
    const jdk = findJdk(21, `compiling jvm/${module}/src`, 'GEOREPLICA_OPENSEARCH_JAVA_HOME');
    if (!jdk.javac) throw new GeoError('RUNTIME_NO_JDK', `The JDK at ${jdk.home} has no javac; install a full JDK.`);
    mkdirSync(classesDir(module), { recursive: true });
    const sources = readdirSync(src).filter((f) => f.endsWith('.java')).map((f) => join(src, f));
    run(jdk.javac, ['-cp', `${lib}/*`, '-d', classesDir(module), ...sources], `Compiling jvm/${module}/src`);
  }
  writeFileSync(stampPath(module), `${manifestHash(module)}\n`);
  log.info({ module, seconds: (Date.now() - started) / 1000 }, 'fetched');
}

export function fetchAll(log: Logger): void {
  for (const m of JVM_MODULES) fetchModule(m, log);
}

export function requireFetched(module: JvmModule): void {
  if (!isFetched(module)) {
    throw new GeoError('RUNTIME_NOT_FETCHED', `The ${module} jars are missing or stale in ${join(JVM_CACHE, module)}. Run: npx georeplica fetch`);
  }
}
