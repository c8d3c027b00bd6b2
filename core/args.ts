/** Command-line arguments shared by the service entry points (`<service>/main.ts`). */
import { parseArgs } from 'node:util';
import { loadDeployment } from '../config/load.ts';
import type { Deployment, ServicePorts } from '../config/schema.ts';
import { Topology } from '../topology/topology.ts';
import { GeoError } from './errors.ts';

/** A port flag's value: an integer 0-65535 (0: any free port), or INVALID_ARGUMENT naming the flag and the value. */
export function parsePortArg(text: string, flag = '--port'): number {
  const port = Number(text);
  if (!/^\d+$/.test(text) || port > 65535) throw new GeoError('INVALID_ARGUMENT', `${flag}: got "${text}"; expected a port number (integer 1-65535, or 0 for any free port).`);
  return port;
}

export interface ServiceArgs {
  region: string;
  deployment: Readonly<Deployment>;
  /** The port flag's value, else the region's port for this service. */
  port: number;
  /** The service's own string flags, by name. */
  extra: Readonly<Record<string, string | undefined>>;
}

/**
 * `--region R [--config f] [--port N]` plus the service's own string flags. The region must be
 * one of the deployment's (UNKNOWN_REGION lists them); `--georeplica-state` is the marker the
 * local runtime puts on the processes it starts (topology/runtime/server-spec.ts) and is ignored.
 */
export function parseServiceArgs(service: keyof ServicePorts, o: { portFlag?: string; extra?: readonly string[]; argv?: string[] } = {}): ServiceArgs {
  const portFlag = o.portFlag ?? 'port';
  const names = ['region', 'config', portFlag, 'georeplica-state', ...(o.extra ?? [])];
  let values: Record<string, string | undefined>;
  try {
    ({ values } = parseArgs({ ...(o.argv ? { args: o.argv } : {}), options: Object.fromEntries(names.map((n) => [n, { type: 'string' as const }])) }) as { values: Record<string, string | undefined> });
  } catch (cause) {
    const flags = names.filter((n) => n !== 'georeplica-state').map((n) => `--${n}`).join(', ');
    throw new GeoError('INVALID_ARGUMENT', `${(cause as Error).message} The ${service} takes ${flags}.`, { cause });
  }
  const region = values['region'];
  if (region === undefined || region === '') throw new GeoError('INVALID_ARGUMENT', '--region <region> is required, e.g. --region us-east.');
  const config = values['config'];
  const deployment = loadDeployment(config === undefined ? {} : { path: config });
  const ports = new Topology(deployment).region(region).ports;
  const portText = values[portFlag];
  const port = portText === undefined ? ports[service] : parsePortArg(portText, `--${portFlag}`);
  return { region, deployment, port, extra: Object.fromEntries((o.extra ?? []).map((n) => [n, values[n]])) };
}
