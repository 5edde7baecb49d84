// The ingest service as a runtime module: it registers POST /v1/events on the process's one HTTP server and is
// ready while the shared producer is connected. The producer belongs to the composition root, which connects it
// in its own module's start (after this module's init), so the connection is followed through the producer's
// events rather than asked once.
import type { Module, ModuleInstance } from '@touchstream/runtime';
import { trackProducerConnection } from '@touchstream/kafka';
import { ingestPlugin, type IngestDeps } from './plugin.ts';

export function createIngestModule(deps: IngestDeps): Module {
  // Listening from construction on: the composition root may connect the producer before init runs.
  const connection = trackProducerConnection(deps.producer);
  return {
    name: 'ingest',
    deps: [],
    async init(ctx): Promise<ModuleInstance> {
      await ctx.http.register(ingestPlugin(deps));
      return {
        async start() {},
        async stop() {
          connection.dispose();
        },
        ready: () =>
          connection.connected()
            ? { ready: true }
            : { ready: false, reason: 'Kafka producer is not connected: events cannot be acknowledged' },
      };
    },
  };
}
