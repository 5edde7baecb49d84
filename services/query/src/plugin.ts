// The query API's routes. Registered as an encapsulated plugin so the read-key check and the `{code, message}`
// error handler apply to these routes only, not to /healthz or the other modules' routes.
import type { FastifyBaseLogger, FastifyPluginAsync } from 'fastify';
import type { Redis } from 'ioredis';
import type { ClickHouseClient } from '@touchstream/clickhouse';
import { queryAlerts, type AlertLevel } from './alerts.ts';
import { readKeyAuthenticator } from './auth.ts';
import { queryErrorHandler } from './errors.ts';
import { queryJourney } from './journey.ts';
import { resolveRange } from './range.ts';
import { alertsRouteSchema, journeyRouteSchema } from './schemas.ts';
import { kpiRoutes } from './routes/kpis.ts';
import { heatmapRoutes } from './routes/heatmap.ts';
import { cohortRoutes } from './routes/cohorts.ts';
import { annotationRoutes } from './routes/annotations.ts';
import type { HeatmapTargets } from './heatmap.ts';
import { microsToIso } from './time.ts';
import { attributionRoutes } from './routes/attribution.ts';
import { driverRoutes } from './routes/drivers.ts';
import { funnelRoutes } from './routes/funnels.ts';
import { pathRoutes } from './routes/paths.ts';

export interface QueryDeps {
  clickhouse: ClickHouseClient;
  redis: Redis;
  /** Read key → analyst name. Only these keys open the query routes. */
  readKeys: Record<string, string>;
  /** Half-life of the weak-signal score; must match the processor's rules so live scores decay alike. */
  halfLifeMs: number;
  /** Heat map targets from configuration (HEATMAP_TARGETS); a request's `targets` parameter overrides them. */
  heatmapTargets?: HeatmapTargets;
  /** Epoch milliseconds; injectable so tests can pin "now". Defaults to Date.now. */
  now?: () => number;
  log: FastifyBaseLogger;
}

export function queryPlugin(deps: QueryDeps): FastifyPluginAsync {
  const nowMicros = () => Math.round((deps.now ?? Date.now)() * 1000);
  return async function queryRoutes(app) {
    app.addHook('onRequest', readKeyAuthenticator(deps.readKeys));
    app.setErrorHandler(queryErrorHandler);
    await app.register(funnelRoutes({ clickhouse: deps.clickhouse, nowMicros }));
    await app.register(pathRoutes({ clickhouse: deps.clickhouse, nowMicros }));
    await app.register(driverRoutes({ clickhouse: deps.clickhouse, nowMicros }));
    await app.register(attributionRoutes({ clickhouse: deps.clickhouse, nowMicros }));

    await app.register(kpiRoutes({ ...deps, nowMicros }));
    await app.register(heatmapRoutes({ ...deps, nowMicros }));
    await app.register(cohortRoutes({ ...deps, nowMicros }));
    await app.register(annotationRoutes({ ...deps, nowMicros }));

    app.get<{ Params: { customer_id: string }; Querystring: { limit: number; cursor?: string } }>(
      '/v1/customers/:customer_id/journey',
      { schema: journeyRouteSchema },
      async (request) =>
        queryJourney(deps, { customerId: request.params.customer_id, limit: request.query.limit, cursor: request.query.cursor }, nowMicros()),
    );

    app.get<{ Querystring: { from?: string; to?: string; level?: AlertLevel; customer_id?: string; limit: number } }>(
      '/v1/alerts',
      { schema: alertsRouteSchema },
      async (request) => {
        const { fromMicros, toMicros } = resolveRange(request.query, nowMicros());
        const alerts = await queryAlerts(deps.clickhouse, {
          fromMicros,
          toMicros,
          level: request.query.level,
          customerId: request.query.customer_id,
          limit: request.query.limit,
        });
        return { from: microsToIso(fromMicros), to: microsToIso(toMicros), alerts };
      },
    );
  };
}
