// What every route family of the query API is given: the stores, the scoring half-life and the
// clock. In a file of its own so that the routes and plugin.ts (which registers them) both import it, and no
// route imports plugin.ts.
import type { FastifyBaseLogger } from 'fastify';
import type { Cluster, Redis } from 'ioredis';
import type { ClickHouseClient } from '@touchstream/clickhouse';
import type { HeatmapTargets } from '../heatmap/heatmap.ts';
import type { TouchpointCatalogue } from '@touchstream/contracts/touchpoint-catalogue';
import type { Personas } from '@touchstream/contracts/personas';

export interface QueryDeps {
  clickhouse: ClickHouseClient;
  redis: Redis | Cluster;
  /** Half-life of the weak-signal score; must match the processor's rules so live scores decay alike. */
  halfLifeMs: number;
  /** Heat map targets from configuration (HEATMAP_TARGETS); a request's `targets` parameter overrides them. */
  heatmapTargets?: HeatmapTargets;
  /** The touchpoint catalogue in force (TOUCHPOINTS_FILE; the query module keeps it in step with the file). */
  touchpointCatalogue?: { readonly current: TouchpointCatalogue };
  /** The personas in force (PERSONAS_FILE, docs/architecture.md §20.6; the query module keeps them in step with the file). */
  personas?: { readonly current: Personas };
  /** Epoch milliseconds; injectable so tests can pin "now". Defaults to Date.now. */
  now?: () => number;
  log: FastifyBaseLogger;
}

/** "Now" in epoch microseconds (the unit of every timestamp here), from the injectable clock. */
export function nowMicros(deps: Pick<QueryDeps, 'now'>): number {
  return Math.round((deps.now ?? Date.now)() * 1000);
}
