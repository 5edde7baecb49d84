// The ingest service as a runtime module: it registers POST /v1/events on the process's one HTTP server and is
// ready while the shared producer is connected and Kafka takes writes. The producer belongs to the composition
// root, which connects it in its own module's start (after this module's init), so the connection is followed
// through the producer's events rather than asked once; whether the broker is really there is followed by
// watchKafkaWrites (send outcomes and a periodic metadata check), since a producer stays "connected" while its
// broker is gone.
import type { Module, ModuleInstance } from '@touchstream/runtime';
import { topicNames, trackProducerConnection, watchKafkaWrites, type KafkaWriteHealth } from '@touchstream/kafka';
import { ingestPlugin, type IngestDeps } from './plugin.ts';

export interface IngestModuleDeps extends IngestDeps {
  /** The process's kafkajs client: when given, readiness also checks that Kafka takes writes. */
  kafka?: Parameters<typeof watchKafkaWrites>[0];
  /** Between two checks of the broker, default 2 s. */
  healthCheckIntervalMs?: number;
}

export function createIngestModule(deps: IngestModuleDeps): Module {
  // Listening from construction on: the composition root may connect the producer before init runs.
  const connection = trackProducerConnection(deps.producer);
  const health: KafkaWriteHealth | undefined = deps.kafka
    ? watchKafkaWrites(deps.kafka, { topic: deps.topics?.touchpoints ?? topicNames.touchpoints, intervalMs: deps.healthCheckIntervalMs, log: deps.log })
    : undefined;
  return {
    name: 'ingest',
    deps: [],
    async init(ctx): Promise<ModuleInstance> {
      await ctx.http.register(ingestPlugin({ ...deps, health: deps.health ?? health }));
      return {
        async start() {
          health?.start();
        },
        async stop() {
          connection.dispose();
          await health?.stop();
        },
        ready: () => {
          if (!connection.connected()) return { ready: false, reason: 'Kafka producer is not connected: events cannot be acknowledged' };
          const writes = health?.status();
          if (writes && !writes.ok) return { ready: false, reason: writes.reason };
          return { ready: true };
        },
      };
    },
  };
}
