import { spawnSync } from 'node:child_process';
import { kafkaJarsResolved } from './kafka.ts';

export interface PrerequisiteOptions {
  /** The launcher will start Kafka (needs Java, and Maven until the jars are resolved). Default true. */
  kafka?: boolean;
  /** The launcher will start Redis (needs redis-server). Default true. */
  redis?: boolean;
}

/** The major version of `java` on PATH, or undefined when there is none. */
function javaMajor(): number | undefined {
  const r = spawnSync('java', ['-version'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) return undefined;
  // `openjdk version "17.0.15" 2025-04-15`, or `"1.8.0_402"` for Java 8.
  const m = /version "(\d+)(?:\.(\d+))?/.exec(`${r.stderr}${r.stdout}`);
  if (!m) return 0;
  const major = Number(m[1]);
  return major === 1 ? Number(m[2] ?? 0) : major;
}

function onPath(command: string, arg = '--version'): boolean {
  const r = spawnSync(command, [arg], { stdio: 'ignore' });
  return !r.error;
}

/**
 * What is missing to start the local stack, one human message each with how to install it (Debian/Ubuntu
 * package names); empty when everything is there. Maven is only needed until tools/kafka/lib is resolved.
 */
export function checkPrerequisites(opts: PrerequisiteOptions = {}): string[] {
  const missing: string[] = [];
  if (opts.kafka ?? true) {
    const java = javaMajor();
    if (java === undefined) {
      missing.push('java not found: Kafka needs Java 17 or newer (apt-get install -y openjdk-17-jre-headless)');
    } else if (java < 17) {
      missing.push(`java ${java || '(unknown version)'} is too old: Kafka needs Java 17 or newer (apt-get install -y openjdk-17-jre-headless)`);
    }
    if (!kafkaJarsResolved() && !onPath('mvn')) {
      missing.push('mvn not found: Maven downloads the Kafka jars into tools/kafka/lib once (apt-get install -y maven)');
    }
  }
  if ((opts.redis ?? true) && !onPath('redis-server')) {
    missing.push('redis-server not found (apt-get install -y redis-server)');
  }
  return missing;
}
