/** The runtime's record of what it started: the effective deployment and each server's pid. */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface ServerRecord {
  pid: number;
  startedAt: string;
}

export interface RuntimeState {
  version: 1;
  deployment: unknown;
  /** Whether the project's services run too (see RuntimeOptions.services). */
  services?: boolean;
  servers: Record<string, ServerRecord>;
}

export function stateFile(stateDir: string): string {
  return join(stateDir, 'state.json');
}

export function readState(stateDir: string): RuntimeState | undefined {
  const file = stateFile(stateDir);
  if (!existsSync(file)) return undefined;
  return JSON.parse(readFileSync(file, 'utf8')) as RuntimeState;
}

/** Written to a temporary file and renamed, so a reader never sees half a file. */
export function writeState(stateDir: string, state: RuntimeState): void {
  mkdirSync(stateDir, { recursive: true });
  const file = stateFile(stateDir);
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(state, null, 2));
  renameSync(tmp, file);
}

/**
 * Deletes a runtime's data, logs and state, but not another runtime nested inside its folder
 * (the test and bench runtimes live in `.regions/test` and `.regions/bench` under the
 * developer's `.regions`): a sub-folder holding its own state.json is left alone. The folder
 * itself goes once empty.
 */
export function purgeStateDir(stateDir: string): void {
  if (!existsSync(stateDir)) return;
  for (const entry of readdirSync(stateDir, { withFileTypes: true })) {
    const path = join(stateDir, entry.name);
    if (entry.isDirectory() && existsSync(stateFile(path))) continue;
    rmSync(path, { recursive: true, force: true });
  }
  if (readdirSync(stateDir).length === 0) rmSync(stateDir, { recursive: true, force: true });
}
