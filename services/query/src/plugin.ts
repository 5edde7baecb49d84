// The query API's routes. Registered as an encapsulated plugin so the `{code, message}` error handler applies to
// these routes only. Each route declares its role (`read`, or `analyst-write` to post annotations); the process's
// one role check (@touchstream/runtime enforceRoles) enforces it.
import type { FastifyPluginAsync } from 'fastify';
import { alertRoutes } from './alerts/route.ts';
import { annotationRoutes } from './annotations/route.ts';
import { attributionRoutes } from './attribution/route.ts';
import { cohortRoutes } from './cohorts/route.ts';
import { driverRoutes } from './drivers/route.ts';
import { funnelRoutes } from './funnels/route.ts';
import { heatmapRoutes } from './heatmap/route.ts';
import { heatmapCellRoutes } from './heatmap-cell/route.ts';
import { journeyRoutes } from './journey/route.ts';
import { kpiRoutes } from './kpis/route.ts';
import { pathRoutes } from './paths/route.ts';
import { touchpointRoutes } from './touchpoints/route.ts';
import { personaRoutes } from './personas/route.ts';
import type { QueryDeps } from './shared/deps.ts';
import { queryErrorHandler } from './shared/errors.ts';

/** The endpoint families, in the order /docs lists them. */
const families = [
  funnelRoutes,
  pathRoutes,
  driverRoutes,
  attributionRoutes,
  kpiRoutes,
  heatmapRoutes,
  touchpointRoutes,
  personaRoutes,
  heatmapCellRoutes,
  cohortRoutes,
  annotationRoutes,
  journeyRoutes,
  alertRoutes,
] satisfies Array<(deps: QueryDeps) => FastifyPluginAsync>;

export function queryPlugin(deps: QueryDeps): FastifyPluginAsync {
  return async function queryRoutes(app) {
    app.setErrorHandler(queryErrorHandler);
    for (const routes of families) await app.register(routes(deps));
  };
}
