import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The project root: two levels above this file (topology/runtime/). */
export const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Where fetched JVM jars live; git ignores it. */
export const JVM_CACHE = process.env['GEOREPLICA_JVM_CACHE'] ?? join(PROJECT_ROOT, '.cache', 'jvm');

export function resolveFromRoot(path: string): string {
  return isAbsolute(path) ? path : join(PROJECT_ROOT, path);
}

/** Loader flag so plain `node` runs the project's TypeScript: services are spawned with it. */
export const TSX_IMPORT = join(PROJECT_ROOT, 'node_modules', 'tsx', 'dist', 'esm', 'index.mjs');
