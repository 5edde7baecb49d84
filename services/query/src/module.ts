// The query service as a runtime module: it registers its routes on the process's one HTTP server and reports
// itself ready while both stores answer. The ClickHouse and Redis clients belong to the caller (they may be
// shared with other modules), so stop() leaves them open.
import type { Module, ModuleInstance } from '@touchstream/runtime';
import { queryPlugin } from './plugin.ts';
import type { QueryDeps } from './shared/deps.ts';
import { createCatalogueWatcher, type CatalogueReload, type CatalogueWatcher } from '@touchstream/contracts/touchpoint-catalogue';
import { createPersonasWatcher, type PersonasReload, type PersonasWatcher } from '@touchstream/contracts/personas';

export interface QueryModuleOptions extends QueryDeps {
  /** touchpoints.yaml (docs/architecture.md §20.2): validated at init, reloaded on change and on reloadCatalogue(). */
  touchpointsFile?: string;
  touchpointsPollIntervalMs?: number;
  /** personas.yaml (docs/architecture.md §20.6): validated at init, reloaded on change and on reloadPersonas(). */
  personasFile?: string;
  personasPollIntervalMs?: number;
}

export interface QueryModule extends Module {
  /** Re-reads the touchpoint catalogue (SIGHUP); an invalid file is rejected and the catalogue in force stays. */
  reloadCatalogue(): Promise<CatalogueReload>;
  /** Re-reads the personas file (SIGHUP); an invalid file is rejected and the personas in force stay. */
  reloadPersonas(): Promise<PersonasReload>;
}

/** How often readiness re-checks ClickHouse; a failed query in between also shows up on the next check. */
const clickhouseCheckIntervalMs = 5_000;

export function createQueryModule(options: QueryModuleOptions): QueryModule {
  const { touchpointsFile, touchpointsPollIntervalMs, personasFile, personasPollIntervalMs, ...deps } = options;
  let catalogue: CatalogueWatcher | undefined;
  let personas: PersonasWatcher | undefined;
  return {
    name: 'query',
    deps: [],
    async reloadCatalogue() {
      if (!catalogue) return { ok: false, error: 'no touchpoint catalogue configured (TOUCHPOINTS_FILE): nothing to reload' };
      return catalogue.reload('reload requested');
    },
    async reloadPersonas() {
      if (!personas) return { ok: false, error: 'no personas file configured (PERSONAS_FILE): nothing to reload' };
      return personas.reload('reload requested');
    },
    async init(ctx): Promise<ModuleInstance> {
      // Loaded here so a bad catalogue fails the process before anything starts.
      if (touchpointsFile) catalogue = await createCatalogueWatcher({ file: touchpointsFile, log: deps.log, pollIntervalMs: touchpointsPollIntervalMs });
      if (personasFile) personas = await createPersonasWatcher({ file: personasFile, log: deps.log, pollIntervalMs: personasPollIntervalMs });
      await ctx.http.register(queryPlugin({ ...deps, touchpointCatalogue: deps.touchpointCatalogue ?? catalogue, personas: deps.personas ?? personas }));
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
          catalogue?.start();
          personas?.start();
          await checkClickHouse();
          timer = setInterval(() => void checkClickHouse(), clickhouseCheckIntervalMs);
          timer.unref();
        },
        async stop() {
          catalogue?.stop();
          personas?.stop();
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
