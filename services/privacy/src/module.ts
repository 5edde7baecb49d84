// The privacy service (docs/architecture.md §14): erase and export one customer, admin key only. A runtime module on
// the process's HTTP server, run by the query target (it needs the same stores the query API reads).
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { Cluster, Redis } from 'ioredis';

import type { ClickHouseClient } from '@touchstream/clickhouse';
import type { BatchConsumerOptions, ErasedCustomers, LogSink } from '@touchstream/kafka';
import type { Module, ModuleInstance } from '@touchstream/runtime';
import { eraseCustomer, storedCustomerId, type PrivacySettings } from './erase.ts';
import { exportCustomer } from './export.ts';

export interface PrivacyDeps {
  redis: Redis | Cluster;
  clickhouse: ClickHouseClient;
  producer: BatchConsumerOptions['producer'];
  /** Followed from erasures.v1 by the composition root; the erase route records into it too. Unset without PRIVACY_SECRET. */
  erased?: ErasedCustomers;
  /** Unset without PRIVACY_SECRET: the routes answer 503 saying so. */
  settings?: PrivacySettings;
  halfLifeMs: number;
  log: LogSink;
}

const errorBody = {
  type: 'object',
  required: ['code', 'message'],
  properties: { code: { type: 'string' }, message: { type: 'string' } },
} as const;

const customerParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', minLength: 1, maxLength: 256, description: 'The customer_id as the client sent it (raw, even when ingest pseudonymises).' } },
} as const;

const erasureReport = {
  type: 'object',
  required: ['customer_key', 'erased_at', 'previously_erased', 'removed'],
  properties: {
    customer_key: { type: 'string', description: 'Keyed hash naming the erasure in erasures.v1 and the audit log (never the id).' },
    erased_at: { type: 'string', format: 'date-time' },
    previously_erased: { type: 'boolean' },
    removed: {
      type: 'object',
      properties: {
        redis: { type: 'object', properties: { keys: { type: 'integer' }, timer_index_entries: { type: 'integer' }, webhook_marks: { type: 'integer' } } },
        clickhouse: { type: 'object', additionalProperties: { type: 'integer' }, description: 'Rows deleted per table.' },
        kafka: { type: 'object', properties: { erasure_recorded: { type: 'string' } } },
      },
    },
  },
} as const;

/** The role check (admin) is the server's one hook (docs/architecture.md §15); this only says what is missing. */
function privacyConfigured(configured: boolean) {
  return async function requirePrivacySecret(_request: FastifyRequest, reply: FastifyReply) {
    if (!configured) return reply.code(503).send({ code: 'PRIVACY_NOT_CONFIGURED', message: 'set PRIVACY_SECRET (at least 32 characters) to erase or export customers' });
  };
}

export function privacyPlugin(deps: PrivacyDeps): FastifyPluginAsync {
  return async function privacyRoutes(app) {
    // After the role check (an onRequest hook of the server, registered before this plugin).
    app.addHook('onRequest', privacyConfigured(deps.settings !== undefined && deps.erased !== undefined));

    app.delete<{ Params: { id: string } }>('/v1/customers/:id', {
      config: { role: 'admin' },
      schema: {
        tags: ['privacy'],
        summary: 'Erase a customer from every store',
        description:
          'Records the erasure in erasures.v1 (keyed hash), then deletes the customer\'s Redis keys and ClickHouse rows; ' +
          'events of the customer written before it are dropped wherever they are consumed again. Idempotent.',
        params: customerParams,
        response: { 200: erasureReport, 401: errorBody, 403: errorBody, 503: errorBody },
      },
    }, async (request) => {
      const report = await eraseCustomer({ ...deps, settings: deps.settings!, erased: deps.erased! }, request.params.id, 'admin');
      request.log.info({ customer_key: report.customer_key, removed: report.removed }, 'customer erased');
      return report;
    });

    app.get<{ Params: { id: string } }>('/v1/customers/:id/export', {
      config: { role: 'admin' },
      schema: {
        tags: ['privacy'],
        summary: 'Export everything stored about a customer (NDJSON, streamed)',
        description: 'One JSON object per line, `{ "kind", "data" }`; kinds: live_state, score, timeline_entry, journey_timer, touchpoint, signal, alert.',
        params: customerParams,
        response: {
          200: { description: 'NDJSON stream', content: { 'application/x-ndjson': { schema: { type: 'string' } } } },
          401: errorBody,
          403: errorBody,
          503: errorBody,
        },
      },
    }, async (request, reply) => {
      const customerId = storedCustomerId(deps.settings!, request.params.id);
      reply.header('content-type', 'application/x-ndjson; charset=utf-8');
      return reply.send(exportCustomer(deps, customerId));
    });
  };
}

export function createPrivacyModule(deps: PrivacyDeps): Module {
  return {
    name: 'privacy',
    deps: [],
    async init(ctx): Promise<ModuleInstance> {
      await ctx.http.register(privacyPlugin(deps));
      return {
        async start() {},
        async stop() {},
        ready: () => ({ ready: true }),
      };
    },
  };
}
