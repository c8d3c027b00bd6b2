/** `georeplica fetch|up|down|status|endpoints|kill|stop|pause|resume|start`: the local runtime from a shell. */
import { parse as parseYaml } from 'yaml';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { DEFAULT_CONFIG_PATH, validateDeployment } from '../config/load.ts';
import type { Deployment } from '../config/schema.ts';
import { GeoError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import { withBrokers } from '../topology/runtime/deployment-variants.ts';
import { fetchAll } from '../topology/runtime/fetch.ts';
import { LocalRuntime } from '../topology/runtime/local-runtime.ts';
import type { ServerStatus } from '../topology/runtime/local-runtime.ts';
import { resolveFromRoot } from '../topology/runtime/paths.ts';
import { readState } from '../topology/runtime/state-file.ts';
import { table } from './table.ts';

export interface CommonFlags {
  config?: string | undefined;
  stateDir?: string | undefined;
  brokers?: string[] | undefined;
  json?: boolean | undefined;
  purge?: boolean | undefined;
}

/**
 * The deployment a command works on. With no --config or --brokers, a running runtime's own
 * recorded deployment wins, so `up --brokers 3` followed by `status` sees the same three
 * brokers; after `down`, an edited config file takes effect again.
 */
export function resolveDeployment(flags: CommonFlags): { deployment: Readonly<Deployment>; running: boolean; stateDir: string | undefined } {
  const configPath = flags.config ?? process.env['GEOREPLICA_CONFIG'];
  const stateDir = flags.stateDir ?? process.env['GEOREPLICA_STATE_DIR'];
  if (!configPath && !flags.brokers?.length) {
    const dir = resolveFromRoot(stateDir ?? '.regions');
    const state = readState(dir);
    if (state && Object.keys(state.servers).length > 0) return { deployment: validateDeployment(state.deployment, `${dir}/state.json`), running: true, stateDir: dir };
  }
  const path = resolveFromRoot(configPath ?? DEFAULT_CONFIG_PATH);
  let doc: Record<string, unknown>;
  try {
    doc = (parseYaml(readFileSync(path, 'utf8')) ?? {}) as Record<string, unknown>;
  } catch (cause) {
    throw new GeoError('CONFIG_NOT_FOUND', `Cannot read the configuration file ${path}: ${(cause as Error).message}`, { cause });
  }
  for (const spec of flags.brokers ?? []) doc = applyBrokersFlag(doc, spec);
  return { deployment: validateDeployment(doc, path, process.env), running: false, stateDir };
}

function openRuntime(flags: CommonFlags, log: Logger): LocalRuntime {
  const r = resolveDeployment(flags);
  if (r.running && r.stateDir) return LocalRuntime.attach(r.stateDir, log);
  return new LocalRuntime({ deployment: r.deployment, ...(r.stateDir ? { stateDir: r.stateDir } : {}), log });
}

/** "--brokers 3" for every region or "--brokers us-east=3" for one. */
function applyBrokersFlag(doc: Record<string, unknown>, spec: string): Record<string, unknown> {
  const m = /^(?:([a-z][a-z0-9-]*)=)?([1-9])$/.exec(spec);
  if (!m) throw new GeoError('INVALID_ARGUMENT', `--brokers: got "${spec}"; expected a count 1-9 ("3") or region=count ("us-east=3").`);
  const count = Number(m[2]);
  const regions = Object.keys((doc['regions'] ?? {}));
  if (m[1] !== undefined && !regions.includes(m[1])) throw new GeoError('UNKNOWN_REGION', `--brokers: unknown region "${m[1]}". Valid regions: ${regions.join(', ')}.`);
  return (m[1] ? [m[1]] : regions).reduce((d, r) => withBrokers(d, r, count), doc);
}

export function fetchCommand(log: Logger): void {
  fetchAll(log);
  console.log('JVM servers fetched (Kafka, OpenSearch).');
}

export async function upCommand(flags: CommonFlags, log: Logger): Promise<void> {
  fetchAll(log);
  const rt = openRuntime(flags, log);
  const res = await rt.up();
  console.log(res.started.length > 0 ? `Started ${res.started.length} servers in ${res.seconds.toFixed(1)} s (already running: ${res.alreadyRunning.length}).` : `Everything was already running (${res.alreadyRunning.length} servers).`);
  printEndpoints(rt, flags.json === true);
}

export async function downCommand(flags: CommonFlags, log: Logger): Promise<void> {
  let rt: LocalRuntime;
  try {
    rt = openRuntime(flags, log);
  } catch (err) {
    if (!(err instanceof GeoError) || (err.code !== 'CONFIG_INVALID' && err.code !== 'RUNTIME_NO_JDK')) throw err;
    // The recorded deployment no longer validates (or no JDK): stop by state file and marker.
    const dir = resolveFromRoot(flags.stateDir ?? process.env['GEOREPLICA_STATE_DIR'] ?? '.regions');
    const stopped = await LocalRuntime.forceDown(dir, { purge: flags.purge === true });
    console.log(`Stopped ${stopped} processes${flags.purge ? ' and removed their data' : ''} (${dir}); the recorded deployment could not be used: ${err.message.split('\n')[0]}`);
    return;
  }
  const stopped = await rt.down({ purge: flags.purge === true });
  console.log(`Stopped ${stopped.length} servers${flags.purge ? ' and removed their data' : ''} (${rt.stateDir}).`);
}

export async function statusCommand(flags: CommonFlags, log: Logger): Promise<number> {
  const rt = openRuntime(flags, log);
  const status = await rt.status();
  if (flags.json) console.log(JSON.stringify(status, null, 2));
  else console.log(formatStatus(status));
  return status.every((s) => s.healthy) ? 0 : 3;
}

export function endpointsCommand(flags: CommonFlags, log: Logger): void {
  printEndpoints(openRuntime(flags, log), flags.json === true);
}

export async function controlCommand(action: 'kill' | 'stop' | 'pause' | 'resume' | 'start', target: string | undefined, flags: CommonFlags, log: Logger): Promise<void> {
  if (!target) throw new GeoError('INVALID_ARGUMENT', `${action} needs a server, e.g. "georeplica ${action} us-east/kafka-0" (see "georeplica status").`);
  const rt = openRuntime(flags, log);
  await rt[action](target);
  console.log(`${action}: ${rt.resolve(target).map((s) => s.name).join(', ')}`);
}

function printEndpoints(rt: LocalRuntime, json: boolean): void {
  const eps = rt.endpoints();
  if (json) {
    console.log(JSON.stringify(eps, null, 2));
    return;
  }
  const url = (port: number): string => (rt.services ? `http://127.0.0.1:${port}` : '-');
  const rows = Object.entries(eps).map(([region, e]) => [region, url(e.ports.router), url(e.ports.ingest), url(e.ports.search), e.kafkaBootstrap, e.searchUrl, url(e.ports.indexer), url(e.ports.replicator)]);
  console.log(table(['region', 'router', 'ingest API', 'search API', 'kafka bootstrap', 'opensearch', 'indexer status', 'replicator admin'], rows));
  console.log(`State and logs: ${rt.stateDir}`);
}

export function formatStatus(status: readonly ServerStatus[]): string {
  const rows = status.map((s) => [s.name, s.endpoint, s.ports.join(','), s.pid === undefined ? '-' : String(s.pid), s.process, s.healthy ? 'healthy' : 'UNHEALTHY', s.detail]);
  return table(['server', 'endpoint', 'ports', 'pid', 'process', 'health', 'detail'], rows);
}

export function resolvePathArg(p: string): string {
  return resolve(process.cwd(), p);
}
