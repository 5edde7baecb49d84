// Which engines the test stack runs on (docs/architecture.md §17): containers through `testcontainers` when a
// Docker engine answers, else the process launcher of this package (Kafka jars, redis-server, chDB). Both give
// the same Stack; the tests cannot tell them apart except that the container path adds a real ClickHouse server.
import fs from 'node:fs';
import http from 'node:http';

/** TOUCHSTREAM_TEST_ENGINES: `auto` (default) picks by the Docker probe; the other two force a path. */
export type EngineSetting = 'auto' | 'containers' | 'processes';
export type EngineChoice = { engine: 'containers' | 'processes'; reason: string };

export function parseEngineSetting(value: string | undefined): EngineSetting {
  const v = (value ?? '').trim() || 'auto';
  if (v === 'auto' || v === 'containers' || v === 'processes') return v;
  throw new Error(`TOUCHSTREAM_TEST_ENGINES=${value}: use auto, containers or processes`);
}

/**
 * The choice, from the setting, whether Docker answered, and the engines given from outside (KAFKA_BROKERS,
 * REDIS_URL): engines given from outside are used as they are, so when all of Kafka and Redis are given nothing
 * needs starting and the launcher path (which only waits for them) is taken.
 */
export function chooseEngines(input: { setting: EngineSetting; dockerAnswers: boolean; given: { kafka: boolean; redis: boolean } }): EngineChoice {
  if (input.setting === 'processes') return { engine: 'processes', reason: 'TOUCHSTREAM_TEST_ENGINES=processes' };
  if (input.given.kafka && input.given.redis) return { engine: 'processes', reason: 'KAFKA_BROKERS and REDIS_URL given: nothing to start' };
  if (input.setting === 'containers') {
    if (!input.dockerAnswers) throw new Error('TOUCHSTREAM_TEST_ENGINES=containers, but no Docker engine answers (DOCKER_HOST or /var/run/docker.sock): start Docker, or use auto');
    return { engine: 'containers', reason: 'TOUCHSTREAM_TEST_ENGINES=containers' };
  }
  return input.dockerAnswers
    ? { engine: 'containers', reason: 'a Docker engine answers: testcontainers' }
    : { engine: 'processes', reason: 'no Docker engine answers: process launcher' };
}

/** Where the Docker engine's API would be: a unix socket path, or a tcp host and port (DOCKER_HOST). */
export function dockerEndpoint(env: Record<string, string | undefined>): { socketPath: string } | { host: string; port: number } | undefined {
  const host = env.DOCKER_HOST?.trim();
  if (host) {
    if (host.startsWith('unix://')) return { socketPath: host.slice('unix://'.length) };
    const m = /^tcp:\/\/([^:/]+):(\d+)/.exec(host);
    // ssh:// and npipe:// need the docker CLI's transports: not probed, treated as absent.
    return m ? { host: m[1]!, port: Number(m[2]) } : undefined;
  }
  for (const socketPath of [env.XDG_RUNTIME_DIR && `${env.XDG_RUNTIME_DIR}/docker.sock`, '/var/run/docker.sock']) {
    if (socketPath && fs.existsSync(socketPath)) return { socketPath };
  }
  return undefined;
}

/**
 * Whether a Docker engine answers `GET /_ping` with OK within `timeoutMs`: quick and safe where there is none —
 * no socket means no request at all, and the `docker` CLI (which may be installed without an engine) is not run.
 */
export async function dockerAnswers(env: Record<string, string | undefined> = process.env, timeoutMs = 1500): Promise<boolean> {
  const endpoint = dockerEndpoint(env);
  if (!endpoint) return false;
  return new Promise<boolean>((resolve) => {
    const req = http.get({ ...endpoint, path: '/_ping', timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve(res.statusCode === 200 && body.trim() === 'OK'));
      res.on('error', () => resolve(false));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}
