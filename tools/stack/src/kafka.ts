// Apache Kafka in KRaft mode: one combined broker/controller JVM from the Maven Central jars that
// tools/kafka/pom.xml resolves into tools/kafka/lib.
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kafka, logLevel } from 'kafkajs';
import { freePorts } from './ports.ts';
import { ManagedProcess, tail, type Log, type ServiceHandle } from './process.ts';
import { serviceDirs, startService, waitUntilReady } from './service.ts';

export interface KafkaService extends ServiceHandle {
  readonly brokers: string[];
  readonly port: number;
  readonly controllerPort: number;
}

export interface KafkaOptions {
  /** State and logs: `<dir>/kafka/` (server.properties, data) and `<dir>/kafka.log`. */
  dir: string;
  /** Directory of the Kafka jars; default: resolved by ensureKafkaJars() in this repository. */
  libDir?: string;
  /** Client and controller ports; default: the previous run's in this dir when free, else free ones. */
  port?: number;
  controllerPort?: number;
  /** JVM heap, default 512 MB. */
  heapMb?: number;
  readyTimeoutMs?: number;
  log?: Log;
}

const DEFAULT_READY_TIMEOUT_MS = 60_000;

/** The repository this package lives in (tools/stack/src → ../../..). */
export const repoRoot = path.resolve(fileURLToPath(new URL('../../..', import.meta.url)));

function pomHash(pom: string): string {
  return createHash('sha256').update(fs.readFileSync(pom)).digest('hex');
}

/** The marker `tools/kafka/lib/.complete` holds the sha256 of pom.xml the jars were resolved from. */
export function kafkaJarsResolved(root: string = repoRoot): boolean {
  const lib = path.join(root, 'tools/kafka/lib');
  try {
    return fs.readFileSync(path.join(lib, '.complete'), 'utf8').trim() === pomHash(path.join(root, 'tools/kafka/pom.xml'));
  } catch {
    return false;
  }
}

/**
 * Makes sure tools/kafka/lib holds the jars of tools/kafka/pom.xml, running Maven when it is missing,
 * incomplete (an interrupted download) or stale (pom changed). Returns the lib directory.
 *
 * Maven writes into a temporary directory that replaces lib/ only when it succeeded, so an interrupted
 * run never leaves a half-filled lib/ behind; scripts/bootstrap.sh does the same, with the same marker.
 */
export async function ensureKafkaJars(root: string, log?: Log): Promise<string> {
  const pom = path.join(root, 'tools/kafka/pom.xml');
  const lib = path.join(root, 'tools/kafka/lib');
  if (kafkaJarsResolved(root)) return lib;
  const hash = pomHash(pom);
  // Under .tools/ (gitignored, same filesystem for the rename) so an interrupted run leaves no stray folder.
  const tmp = path.join(root, '.tools', `kafka-lib.tmp-${process.pid}`);
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(path.dirname(tmp), { recursive: true });
  log?.('kafka: resolving the Kafka jars from Maven Central (tools/kafka/pom.xml → tools/kafka/lib)…');
  const started = Date.now();
  const { code, output } = await run('mvn', [
    '-q', '-B', '-f', pom, 'dependency:copy-dependencies', `-DoutputDirectory=${tmp}`, '-DincludeScope=runtime',
  ]);
  if (code !== 0) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw new Error(
      `kafka: mvn could not resolve tools/kafka/pom.xml (exit ${code}):\n${output.trimEnd().split('\n').slice(-20).join('\n')}`,
    );
  }
  fs.writeFileSync(path.join(tmp, '.complete'), `${hash}\n`);
  fs.rmSync(lib, { recursive: true, force: true });
  fs.renameSync(tmp, lib);
  log?.(`kafka: jars resolved in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return lib;
}

/** Runs a command to completion, collecting stdout+stderr. */
function run(command: string, args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', (err) => resolve({ code: -1, output: `${output}${err.message}\n` }));
    child.on('close', (code) => resolve({ code, output }));
  });
}

/** A Kafka cluster id: 16 random bytes, base64url without padding, never starting with '-' (as Kafka's Uuid). */
function clusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

/** The ports of the previous run in this directory, read back from its server.properties. */
function previousPorts(propsFile: string): [number | undefined, number | undefined] {
  try {
    const text = fs.readFileSync(propsFile, 'utf8');
    const port = /PLAINTEXT:\/\/127\.0\.0\.1:(\d+)/.exec(text)?.[1];
    const controller = /CONTROLLER:\/\/127\.0\.0\.1:(\d+)/.exec(text)?.[1];
    return [port ? Number(port) : undefined, controller ? Number(controller) : undefined];
  } catch {
    return [undefined, undefined];
  }
}

function serverProperties(port: number, controllerPort: number, dataDir: string): string {
  return `# Written by @touchstream/stack at every start (ports may change between runs). One combined
# broker/controller node for local development and tests.
process.roles=broker,controller
node.id=1
# A static quorum (rather than --standalone's dynamic one) keeps no controller endpoint in the formatted
# storage, so a later run in the same directory may use other ports.
controller.quorum.voters=1@127.0.0.1:${controllerPort}
listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}
advertised.listeners=PLAINTEXT://127.0.0.1:${port}
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=${dataDir}
num.partitions=1
# One node: internal topics with one replica.
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
# Fewer partitions of the internal topics than the default 50: the first consumer group (or transaction)
# would otherwise wait for 50 partitions to be created and loaded on a 2-core machine.
offsets.topic.num.partitions=10
transaction.state.log.num.partitions=10
share.coordinator.state.topic.num.partitions=10
# Consumer groups form at once instead of waiting 3 s for more members (tests).
group.initial.rebalance.delay.ms=0
# After a crash (SIGKILL) the restarted broker cannot register until the dead incarnation's session
# expires: 9 s by default, 4 s here. The heartbeat goes to the controller in the same JVM, so a short
# interval costs nothing and leaves room for GC pauses on a busy machine.
broker.session.timeout.ms=4000
broker.heartbeat.interval.ms=500
`;
}

/**
 * Waits until a Kafka cluster answers DescribeCluster (the broker is registered and serves metadata).
 * `proc`, when given, is the broker we started: its early exit fails the wait at once.
 */
export async function waitForKafka(
  brokers: string[],
  opts: { timeoutMs?: number; proc?: ManagedProcess; logFile?: string } = {},
): Promise<void> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_READY_TIMEOUT_MS;
  const kafka = new Kafka({
    clientId: 'touchstream-stack',
    brokers,
    logLevel: logLevel.NOTHING,
    connectionTimeout: 1000,
    requestTimeout: 5000,
    retry: { retries: 0 },
  });
  return waitUntilReady({
    timeoutMs,
    intervalMs: 250,
    proc: opts.proc,
    logFile: opts.logFile,
    attempt: () => {
      const admin = kafka.admin();
      return {
        check: async () => {
          await admin.connect();
          const cluster = await admin.describeCluster();
          return cluster.brokers.length > 0 ? undefined : 'no broker registered yet';
        },
        close: () => admin.disconnect().catch(() => undefined),
      };
    },
    exitedMessage: 'kafka: the broker exited',
    timeoutMessage: `kafka: ${brokers.join(',')} did not become ready`,
  });
}

/** Starts a single-node KRaft Kafka (formatting its storage the first time) and waits until it serves. */
export async function startKafka(opts: KafkaOptions): Promise<KafkaService> {
  const log = opts.log;
  const { stateDir, logFile } = serviceDirs(opts.dir, 'kafka');
  const dataDir = path.join(stateDir, 'data');
  const propsFile = path.join(stateDir, 'server.properties');

  const libDir = opts.libDir ?? (await ensureKafkaJars(repoRoot, log));
  const heapMb = opts.heapMb ?? 512;
  const classpath = path.join(libDir, '*');
  const jvm = [
    `-Xmx${heapMb}m`,
    `-Xms${Math.min(heapMb, 128)}m`,
    // Serial GC: one collector thread instead of G1's several, which leaves the CPU to the services on
    // small (2-core) machines; a dev broker's heap is small enough for it.
    '-XX:+UseSerialGC',
    '-XX:+ExitOnOutOfMemoryError',
    '-Djava.awt.headless=true',
    '-Dorg.slf4j.simpleLogger.showDateTime=true',
    '-Dorg.slf4j.simpleLogger.dateTimeFormat=yyyy-MM-dd HH:mm:ss.SSS',
  ];
  const proc = new ManagedProcess({
    name: 'kafka',
    command: 'java',
    args: [...jvm, '-cp', classpath, 'kafka.Kafka', propsFile],
    logFile,
    pidFile: path.join(stateDir, 'kafka.pid'),
    ownerMarker: propsFile,
    log,
  });
  // Before the ports are chosen: a leftover broker would hold the previous ones.
  proc.assertNoLeftover();

  const [prevPort, prevController] = previousPorts(propsFile);
  const [port, controllerPort] = (await freePorts(2, [opts.port ?? prevPort, opts.controllerPort ?? prevController])) as [
    number,
    number,
  ];
  fs.writeFileSync(propsFile, serverProperties(port, controllerPort, dataDir));

  if (!fs.existsSync(path.join(dataDir, 'meta.properties'))) {
    log?.(`kafka: formatting storage in ${dataDir}`);
    const { code, output } = await run('java', [
      ...jvm, '-cp', classpath, 'kafka.tools.StorageTool', 'format', '-t', clusterId(), '-c', propsFile,
    ]);
    fs.appendFileSync(logFile, `\n==== ${new Date().toISOString()} kafka-storage format\n${output}`);
    if (code !== 0) {
      throw new Error(`kafka: formatting the storage failed (exit ${code}); see ${logFile}\n${tail(logFile)}`);
    }
  }

  const brokers = [`127.0.0.1:${port}`];
  const readyTimeoutMs = opts.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS;

  const waitReady = () => waitForKafka(brokers, { timeoutMs: readyTimeoutMs, proc, logFile });
  return startService(proc, brokers[0]!, waitReady, { brokers, port, controllerPort });
}
