// The query service as a runtime module: it registers its routes on the process's one HTTP server and reports
// itself ready while both stores answer. The ClickHouse and Redis clients belong to the caller (they may be
// shared with other modules), so stop() leaves them open.
import type { Module, ModuleInstance } from '@touchstream/runtime';
import { queryPlugin } from './plugin.ts';
import type { QueryDeps } from './shared/deps.ts';

/** How often readiness re-checks ClickHouse; a failed query in between also shows up on the next check. */
const clickhouseCheckIntervalMs = 5_000;

export function createQueryModule(deps: QueryDeps): Module {
  return {
    name: 'query',
    deps: [],
    async init(ctx): Promise<ModuleInstance> {
      await ctx.http.register(queryPlugin(deps));
      let clickhouseReason: string | undefined = 'ClickHouse not checked yet';
      let timer: NodeJS.Timeout | undefined;
      const checkClickHouse = async () => {
        try {
          const ping = await deps.clickhouse.ping();
          clickhouseReason = ping.success ? undefined : `ClickHouse ping failed: ${ping.error.message}`;
        } catch (err) {
          clickhouseReason = `ClickHouse ping failed: ${(err as Error).message}`;
        }
        if (clickhouseReason) deps.log.warn({ reason: clickhouseReason }, 'query module not ready');
      };
      return {
        async start() {
          await checkClickHouse();
          timer = setInterval(() => void checkClickHouse(), clickhouseCheckIntervalMs);
          timer.unref();
        },
        async stop() {
          if (timer) clearInterval(timer);
          timer = undefined;
        },
        ready() {
          if (clickhouseReason) return { ready: false, reason: clickhouseReason };
          // ioredis reconnects by itself; until it has, journey requests would fail.
          if (deps.redis.status !== 'ready') return { ready: false, reason: `Redis connection is ${deps.redis.status}` };
          return { ready: true };
        },
      };
    },
  };
}
