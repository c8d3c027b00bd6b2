/**
 * Finds a JDK of at least a given feature version. Kafka 4 needs 17+, OpenSearch 3 needs 21+;
 * the machine has Debian's OpenJDK 17 and Temurin under /usr/lib/jvm.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GeoError } from '../../core/errors.ts';

export interface Jdk {
  readonly home: string;
  readonly java: string;
  readonly javac: string | undefined;
  readonly feature: number;
}

function inspect(home: string): Jdk | undefined {
  const java = join(home, 'bin', 'java');
  if (!existsSync(java)) return undefined;
  let feature = 0;
  try {
    const release = readFileSync(join(home, 'release'), 'utf8');
    const m = /JAVA_VERSION="(\d+)(?:\.(\d+))?/.exec(release);
    if (m) feature = m[1] === '1' ? Number(m[2]) : Number(m[1]);
  } catch {
    return undefined;
  }
  const javac = join(home, 'bin', 'javac');
  return { home, java, javac: existsSync(javac) ? javac : undefined, feature };
}

export function listJdks(roots: readonly string[] = ['/usr/lib/jvm']): Jdk[] {
  const found: Jdk[] = [];
  const envHome = process.env['JAVA_HOME'];
  if (envHome) {
    const j = inspect(envHome);
    if (j) found.push(j);
  }
  for (const root of roots) {
    if (!existsSync(root)) continue;
    for (const entry of readdirSync(root)) {
      const j = inspect(join(root, entry));
      if (j && !found.some((f) => f.feature === j.feature && f.java === j.java)) found.push(j);
    }
  }
  return found;
}

/**
 * The lowest JDK that satisfies `min` (lowest, because servers are tested most on LTS releases
 * near their floor), unless an env var names a home explicitly.
 */
export function findJdk(min: number, purpose: string, overrideEnv: string): Jdk {
  const override = process.env[overrideEnv];
  if (override) {
    const j = inspect(override);
    if (!j || j.feature < min) {
      throw new GeoError('RUNTIME_NO_JDK', `${overrideEnv}=${override} is not a JDK ${min}+ (needed for ${purpose}). Point it at a JDK home with bin/java and a release file.`);
    }
    return j;
  }
  const all = listJdks();
  const ok = all.filter((j) => j.feature >= min).sort((a, b) => a.feature - b.feature);
  const best = ok[0];
  if (!best) {
    const seen = all.map((j) => `${j.home} (${j.feature})`).join(', ') || 'none';
    throw new GeoError('RUNTIME_NO_JDK', `No JDK ${min}+ found for ${purpose} (found: ${seen}). Install one (e.g. apt-get install openjdk-${min}-jdk-headless) or set ${overrideEnv}.`);
  }
  return best;
}
