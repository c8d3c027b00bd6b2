/** Replicator processes (replicator/main.ts) for tests that kill, pause or restart them; see service-process.ts. */
import type { Deployment } from '../../config/schema.ts';
import type { ServiceProcess } from './service-process.ts';
import { useServiceProcesses } from './service-process.ts';

export type ReplicatorProcess = ServiceProcess;

export function useReplicatorProcesses(): (deployment: Readonly<Deployment>, region: string, sources?: string[]) => ReplicatorProcess {
  const spawn = useServiceProcesses();
  return (deployment, region, sources) => spawn('replicator/main.ts', deployment, ['--region', region, '--admin-port', '0', ...(sources ? ['--sources', sources.join(',')] : [])]);
}
