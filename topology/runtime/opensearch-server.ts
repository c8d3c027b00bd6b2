/**
 * A region's OpenSearch node: one single-node cluster started through codelibs'
 * OpenSearchRunner (jvm/opensearch/src/OpenSearchNode.java), which loads OpenSearch's
 * modules from the classpath instead of a distribution tarball.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { classesDir, libDir } from './fetch.ts';
import type { Jdk } from './jdk.ts';
import { getJson } from './probes.ts';
import { stateMarker } from './server-spec.ts';
import type { ServerSpec } from './server-spec.ts';

export interface OpenSearchNodeOptions {
  region: string;
  /** The region's search URL; its port is the HTTP port, and port + 100 the transport port. */
  url: string;
  stateDir: string;
  heapMb: number;
  /** Extra JVM options (runtime.jit). */
  jvmOptions: readonly string[];
  jdk: Jdk;
}

export function openSearchServerName(region: string): string {
  return `${region}/opensearch`;
}

export function openSearchServerSpec(o: OpenSearchNodeOptions): ServerSpec {
  const url = new URL(o.url);
  const host = url.hostname;
  const httpPort = Number(url.port || 80);
  const transportPort = httpPort + 100;
  const dir = join(o.stateDir, o.region, 'opensearch');
  const nodeHome = join(dir, 'node_1');
  const base = `${url.protocol}//${url.host}`;
  const yml = [
    `cluster.name: georeplica-${o.region}`,
    `node.name: ${o.region}-search`,
    `network.host: ${host}`,
    `http.port: ${httpPort}`,
    `transport.port: ${transportPort}`,
    'discovery.type: single-node',
    // The local disk is shared with everything else on the machine; watermarks would flip
    // indices read-only for reasons unrelated to the system under test.
    'cluster.routing.allocation.disk.threshold_enabled: false',
    'action.destructive_requires_name: false',
    '',
  ].join('\n');
  return {
    name: openSearchServerName(o.region),
    region: o.region,
    kind: 'opensearch',
    command: o.jdk.java,
    args: [
      `-Xms${o.heapMb}m`,
      `-Xmx${o.heapMb}m`,
      '-XX:+UseG1GC',
      '-XX:+ExitOnOutOfMemoryError',
      ...o.jvmOptions,
      '--enable-native-access=ALL-UNNAMED',
      '-Djava.awt.headless=true',
      `-Djava.io.tmpdir=${join(dir, 'tmp')}`,
      `-D${stateMarker(o.stateDir)}`,
      '-cp',
      `${classesDir('opensearch')}:${libDir('opensearch')}/*`,
      'OpenSearchNode',
      '-basePath',
      dir,
      '-numOfNode',
      '1',
      // The runner gives node N the port baseHttpPort + N.
      '-baseHttpPort',
      String(httpPort - 1),
      '-clusterName',
      `georeplica-${o.region}`,
    ],
    dir,
    logFile: join(dir, 'server.log'),
    ports: [httpPort, transportPort],
    endpoint: base,
    prepare() {
      mkdirSync(join(nodeHome, 'config'), { recursive: true });
      mkdirSync(join(dir, 'tmp'), { recursive: true });
      writeFileSync(join(nodeHome, 'config', 'opensearch.yml'), yml);
      return Promise.resolve();
    },
    async probeReady() {
      const h = (await getJson(`${base}/_cluster/health`, 1_000)) as { status?: string } | undefined;
      return h?.status === 'green' || h?.status === 'yellow';
    },
    async probeHealth() {
      const h = (await getJson(`${base}/_cluster/health`, 1_000)) as { status?: string } | undefined;
      if (!h?.status) return { ok: false, detail: 'no answer on /_cluster/health' };
      return { ok: h.status !== 'red', detail: `cluster ${h.status}` };
    },
  };
}
