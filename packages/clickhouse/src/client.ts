// One client type for both deployments: chDB embedded in this process (the default for `--target all`) or a
// ClickHouse server (required once targets are split across processes). Callers never branch on which.
import { createRequire } from 'node:module';
import { createClient, type ClickHouseClient, type ClickHouseClientConfigOptions } from '@clickhouse/client';
import type { createChdbConnection as CreateChdbConnection } from 'chdb/connection';

export type { ClickHouseClient } from '@clickhouse/client';

export interface EmbeddedClickHouseOptions {
  /** chDB data directory. libchdb binds one directory per process: every client in a process must use the same path. */
  path: string;
}

export interface ServerClickHouseOptions {
  /** e.g. http://localhost:8123 */
  url: string;
  username?: string;
  password?: string;
  database?: string;
  /** Per-request timeout; migrations and large inserts may need more than the client's 30 s default. */
  requestTimeoutMs?: number;
}

export type ClickHouseOptions = EmbeddedClickHouseOptions | ServerClickHouseOptions;

const requireFromHere = createRequire(import.meta.url);

export function createClickHouse(opts: ClickHouseOptions): ClickHouseClient {
  if ('path' in opts) {
    // Loaded only on this path: it maps libchdb (the whole engine) into the process, which a process talking
    // to a server does not need.
    const { createChdbConnection } = requireFromHere('chdb/connection') as { createChdbConnection: typeof CreateChdbConnection };
    // chdb 3.4.0 declares its connection against @clickhouse/client-common 1.23.0, while @clickhouse/client
    // 1.23.1 bundles its own copy of those types; they differ only in the settings catalogue, not in shape.
    const connection = createChdbConnection({ path: opts.path }) as unknown as ClickHouseClientConfigOptions['connection'];
    return createClient({ connection });
  }
  return createClient({
    url: opts.url,
    username: opts.username,
    password: opts.password,
    database: opts.database,
    request_timeout: opts.requestTimeoutMs ?? 120_000,
    application: 'touchstream',
  });
}
