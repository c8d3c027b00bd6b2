/**
 * `georeplica chaos run <scenario.yaml>... [--config f] [--state-dir d] [--out report.json] [--json]`:
 * brings the chaos runtime up (idempotent; by default chaos/chaos-deployment.ts in .regions/chaos,
 * or a running runtime at --state-dir, or --config), runs the scenarios on one fleet of services,
 * prints the results table and writes the JSON report. Exits 3 when a scenario failed its checks.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { validateDeployment } from '../config/load.ts';
import { GeoError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import { CHAOS_STATE_DIR, chaosDeployment } from '../chaos/chaos-deployment.ts';
import { TABLE_HEADERS, resultJson, tableRow } from '../chaos/report.ts';
import { runScenarios } from '../chaos/runner.ts';
import { loadScenario } from '../chaos/scenario.ts';
import { fetchAll } from '../topology/runtime/fetch.ts';
import { LocalRuntime } from '../topology/runtime/local-runtime.ts';
import { resolveFromRoot } from '../topology/runtime/paths.ts';
import { readState } from '../topology/runtime/state-file.ts';
import { resolveDeployment } from './runtime-commands.ts';
import type { CommonFlags } from './runtime-commands.ts';
import { table } from './table.ts';

export interface ChaosFlags extends CommonFlags {
  out?: string | undefined;
}

export const EXIT_CHECKS_FAILED = 3;

export async function chaosCommand(positionals: readonly string[], flags: ChaosFlags, log: Logger, out: (line: string) => void = console.log): Promise<number> {
  const [sub, ...files] = positionals;
  if (sub !== 'run' || files.length === 0) throw new GeoError('INVALID_ARGUMENT', 'Usage: georeplica chaos run <scenario.yaml>... [--config f] [--state-dir d] [--out report.json] [--json], e.g. "georeplica chaos run test/chaos/scenarios/broker-kill.yaml".');
  const scenarios = files.map((f) => loadScenario(f));
  const runtime = openChaosRuntime(flags, log);
  if (readState(runtime.stateDir)?.services === true) throw new GeoError('INVALID_ARGUMENT', `The runtime in ${runtime.stateDir} runs its own services; chaos runs start their own on the same ports. Use another --state-dir (the default is ${CHAOS_STATE_DIR}).`);
  fetchAll(log);
  out(`Runtime ${runtime.stateDir}: starting what is not running...`);
  const up = await runtime.up();
  out(`Runtime ready (${up.started.length} started, ${up.alreadyRunning.length} already running).`);

  const { results, errors } = await runScenarios({ runtime, scenarios, log, progress: (line) => out(line) });
  const report = { command: `georeplica chaos run ${files.join(' ')}`, stateDir: runtime.stateDir, finishedAt: new Date().toISOString(), results: results.map(resultJson), errors };
  const file = flags.out ?? join(runtime.stateDir, 'chaos-reports', `${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  if (flags.json) out(JSON.stringify(report, null, 2));
  else out(table(TABLE_HEADERS, results.map(tableRow)));
  for (const e of errors) out(`${e.scenario}: could not be run: ${e.error}`);
  out(`Report: ${file}`);
  return errors.length === 0 && results.every((r) => r.checks.passed) ? 0 : EXIT_CHECKS_FAILED;
}

/** --config wins; else the runtime recorded at --state-dir (default .regions/chaos); else the default chaos deployment. */
function openChaosRuntime(flags: ChaosFlags, log: Logger): LocalRuntime {
  const stateDir = resolveFromRoot(flags.stateDir ?? CHAOS_STATE_DIR);
  if (flags.config) return new LocalRuntime({ deployment: resolveDeployment(flags).deployment, stateDir, services: false, log });
  const state = readState(stateDir);
  const deployment = state ? validateDeployment(state.deployment, `${stateDir}/state.json`) : chaosDeployment({ stateDir });
  return new LocalRuntime({ deployment, stateDir, services: false, log });
}
