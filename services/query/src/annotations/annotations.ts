// Actions analysts record (a new IVR menu, a policy change), stored in ClickHouse to measure their impact against
// (impact.ts).
import { randomUUID } from 'node:crypto';
import type { ClickHouseClient } from '@touchstream/clickhouse';
import { dateTime64FromMicros, insertRows } from '@touchstream/clickhouse';
import { ApiError } from '../shared/errors.ts';
import { scopeParams, type Scope } from '../shared/scope.ts';
import { querySettingsSql } from '../shared/sql.ts';
import { microsToIso } from '../shared/time.ts';

export const annotationScopeNames = ['channel', 'journey', 'touchpoint', 'stage'] as const;
type AnnotationScopeName = (typeof annotationScopeNames)[number];
export type AnnotationScope = Partial<Record<AnnotationScopeName, string>>;

export interface AnnotationInput {
  title: string;
  description?: string;
  atMicros: number;
  scope: AnnotationScope;
  createdBy: string;
}

export interface AnnotationView {
  id: string;
  title: string;
  description: string | null;
  at: string;
  scope: AnnotationScope;
  created_by: string;
  created_at: string;
}

interface AnnotationRow {
  annotation_id: string;
  title: string;
  description: string;
  at_us: number | string;
  channel: string;
  journey: string;
  touchpoint: string;
  stage: string;
  created_by: string;
  created_at_ms: number | string;
}

const annotationColumnsSql = `annotation_id, title, description, toUnixTimestamp64Micro(at) AS at_us, channel, journey, touchpoint,
  stage, created_by, toUnixTimestamp64Milli(created_at) AS created_at_ms`;

function annotationFromRow(row: AnnotationRow): AnnotationView {
  const scope: AnnotationScope = {};
  for (const name of annotationScopeNames) if (row[name]) scope[name] = row[name];
  return {
    id: row.annotation_id,
    title: row.title,
    description: row.description || null,
    at: microsToIso(Number(row.at_us)),
    scope,
    created_by: row.created_by,
    created_at: microsToIso(Number(row.created_at_ms) * 1000),
  };
}

export async function createAnnotation(clickhouse: ClickHouseClient, input: AnnotationInput): Promise<AnnotationView> {
  const id = randomUUID();
  const createdAtMs = Date.now();
  await insertRows(clickhouse, {
    table: 'annotations',
    rows: [
      {
        annotation_id: id,
        title: input.title,
        description: input.description ?? '',
        at: dateTime64FromMicros(input.atMicros),
        channel: input.scope.channel ?? '',
        journey: input.scope.journey ?? '',
        touchpoint: input.scope.touchpoint ?? '',
        stage: input.scope.stage ?? '',
        created_by: input.createdBy,
        created_at: dateTime64FromMicros(createdAtMs * 1000),
      },
    ],
  });
  return {
    id,
    title: input.title,
    description: input.description || null,
    at: microsToIso(input.atMicros),
    scope: Object.fromEntries(Object.entries(input.scope).filter(([, v]) => v)),
    created_by: input.createdBy,
    created_at: microsToIso(createdAtMs * 1000),
  };
}

const listSql = `
SELECT ${annotationColumnsSql}
FROM annotations FINAL
WHERE at >= fromUnixTimestamp64Micro({from_us:Int64}, 'UTC') AND at < fromUnixTimestamp64Micro({to_us:Int64}, 'UTC')
  -- A filter keeps the annotations that apply there: scoped to it, or not scoped on that dimension ('' = everywhere).
  AND ({channel:String} = '' OR channel = '' OR channel = {channel:String})
  AND ({journey:String} = '' OR journey = '' OR journey = {journey:String})
ORDER BY at DESC, annotation_id
LIMIT {limit:UInt32}
${querySettingsSql}`;

export async function listAnnotations(clickhouse: ClickHouseClient, request: { fromMicros: number; toMicros: number; limit: number; scope?: Scope }) {
  const rs = await clickhouse.query({
    query: listSql,
    query_params: { from_us: request.fromMicros, to_us: request.toMicros, limit: request.limit, ...scopeParams(request.scope ?? {}) },
    format: 'JSONEachRow',
  });
  return (await rs.json<AnnotationRow>()).map(annotationFromRow);
}

const getSql = `SELECT ${annotationColumnsSql} FROM annotations FINAL WHERE annotation_id = {id:String} LIMIT 1 ${querySettingsSql}`;

export async function getAnnotation(clickhouse: ClickHouseClient, id: string): Promise<AnnotationView> {
  const rs = await clickhouse.query({ query: getSql, query_params: { id }, format: 'JSONEachRow' });
  const [row] = await rs.json<AnnotationRow>();
  if (!row) throw new ApiError(404, 'ANNOTATION_NOT_FOUND', `no annotation with id ${JSON.stringify(id)}`);
  return annotationFromRow(row);
}
