// The live alert stream as a runtime module (part of the query target): a per-instance Kafka consumer on
// alerts.v1 feeding GET /v1/alerts/stream.
import type { Kafka } from 'kafkajs';
import type { Module, ModuleInstance } from '@touchstream/runtime';
import { topicNames, type LogSink } from '@touchstream/kafka';
import { AlertStreamHub } from './hub.ts';
import { alertStreamPlugin } from './route.ts';

export interface AlertStreamModuleDeps {
  kafka: Kafka;
  /** Prefix of the per-instance consumer groups (`<prefix>-alert-stream-<host>-<pid>-<random>`). */
  groupPrefix: string;
  log: LogSink;
  topic?: string;
  /** Alerts kept in memory for clients resuming with Last-Event-ID; older ones are read from Kafka again. */
  bufferSize?: number;
  heartbeatMs?: number;
  maxQueuedPerClient?: number;
}

export interface AlertStreamModule extends Module {
  hub(): AlertStreamHub | undefined;
}

export function createAlertStreamModule(deps: AlertStreamModuleDeps): AlertStreamModule {
  const topic = deps.topic ?? topicNames.alerts;
  let hub: AlertStreamHub | undefined;
  return {
    name: 'alert-stream',
    deps: [],
    hub: () => hub,
    async init(ctx): Promise<ModuleInstance> {
      hub = new AlertStreamHub({ kafka: deps.kafka, topic, groupPrefix: deps.groupPrefix, bufferSize: deps.bufferSize ?? 10_000, log: deps.log });
      await ctx.http.register(alertStreamPlugin({
        hub,
        kafka: deps.kafka,
        topic,
        groupPrefix: deps.groupPrefix,
        heartbeatMs: deps.heartbeatMs ?? 15_000,
        maxQueuedPerClient: deps.maxQueuedPerClient ?? 1_000,
        log: deps.log,
      }));
      return {
        start: () => hub!.start(),
        stop: () => hub!.stop(),
        ready: () => hub!.ready(),
      };
    },
  };
}
