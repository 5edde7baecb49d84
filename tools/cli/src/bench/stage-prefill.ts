// Pre-filling for `bench sink|processor`: a plain kafkajs producer (murmur2-partitioned like the app's idempotent one,
// big batches, several in flight, acks from all in-sync replicas). The touchpoints are generated, encoded and produced
// in a worker thread, so that the stage measured afterwards in the main thread does not carry the dataset's heap in its
// memory figures (a worker's heap is given back when it ends).
import { fileURLToPath } from 'node:url';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { Partitioners, type Kafka } from 'kafkajs';
import { createKafka, topicNames } from '@touchstream/kafka';
import { codecs } from '@touchstream/contracts';
import { stageDataset } from './stage-data.ts';

export interface KeyedValue {
  key: string;
  value: Buffer;
}

export interface PrefillResult {
  records: number;
  seconds: number;
  perSecond: number;
}

/** Produces `count` records made by `message(i)`; `onProgress(sent, elapsedSeconds)` after each acknowledged batch. */
export async function prefill(kafka: Kafka, topic: string, count: number, message: (i: number) => KeyedValue, onProgress?: (sent: number) => void): Promise<PrefillResult> {
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: false });
  await producer.connect();
  const chunk = 5000;
  const inFlight = 4;
  const started = performance.now();
  let next = 0;
  let sent = 0;
  const worker = async () => {
    while (next < count) {
      const from = next;
      const to = Math.min(count, from + chunk);
      next = to;
      const messages: KeyedValue[] = [];
      for (let i = from; i < to; i++) messages.push(message(i));
      await producer.sendBatch({ acks: -1, topicMessages: [{ topic, messages }] });
      sent += to - from;
      onProgress?.(sent);
    }
  };
  try {
    await Promise.all(Array.from({ length: inFlight }, worker));
  } finally {
    await producer.disconnect();
  }
  const seconds = (performance.now() - started) / 1000;
  return { records: count, seconds, perSecond: count / seconds };
}

export interface TouchpointPrefillOptions {
  brokers: string[];
  events: number;
  customers: number;
  seed: number;
  nowMicros: number;
}

export interface TouchpointPrefill {
  generateSeconds: number;
  /** Customers with at least one touchpoint. */
  customers: number;
  prefill: PrefillResult;
  /** The signals bench-data raises for these touchpoints, encoded (codecs.signal) and keyed by customer. */
  signals: KeyedValue[];
}

type FromWorker = { kind: 'generated'; seconds: number; customers: number; signals: number } | { kind: 'progress'; sent: number } | { kind: 'done'; result: TouchpointPrefill } | { kind: 'failed'; error: string };

/** Generates the touchpoints and fills touchpoints.v1 with them, in a worker thread. */
export function prefillTouchpointsInWorker(
  opts: TouchpointPrefillOptions,
  on: { generated?: (g: { seconds: number; customers: number; signals: number }) => void; progress?: (sent: number) => void },
): Promise<TouchpointPrefill> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(fileURLToPath(import.meta.url), { workerData: { stagePrefill: opts } });
    let settled = false;
    worker.on('message', (m: FromWorker) => {
      if (m.kind === 'generated') on.generated?.(m);
      else if (m.kind === 'progress') on.progress?.(m.sent);
      else if (m.kind === 'done') {
        settled = true;
        // Buffers arrive as Uint8Arrays.
        resolve({ ...m.result, signals: m.result.signals.map((s) => ({ key: s.key, value: Buffer.from(s.value) })) });
      } else {
        settled = true;
        reject(new Error(`pre-filling ${topicNames.touchpoints}: ${m.error}`));
      }
    });
    worker.on('error', (err) => {
      settled = true;
      reject(err);
    });
    worker.on('exit', (code) => {
      if (!settled) reject(new Error(`the pre-filling worker exited with code ${code}`));
    });
  });
}

async function runInWorker(opts: TouchpointPrefillOptions) {
  const post = (m: FromWorker) => parentPort!.postMessage(m);
  try {
    const t0 = performance.now();
    const dataset = stageDataset(opts);
    const generateSeconds = (performance.now() - t0) / 1000;
    post({ kind: 'generated', seconds: generateSeconds, customers: dataset.customers, signals: dataset.signals.length });
    const kafka = createKafka({ brokers: opts.brokers, clientId: 'touchstream-bench-prefill' });
    const { touchpoints } = dataset;
    const result = await prefill(
      kafka, topicNames.touchpoints, touchpoints.length,
      (i) => ({ key: touchpoints[i]!.customer_id, value: codecs.touchpoint.encode(touchpoints[i]!) }),
      (sent) => post({ kind: 'progress', sent }),
    );
    const signals = dataset.signals.map((s) => ({ key: s.customer_id, value: codecs.signal.encode(s) }));
    post({ kind: 'done', result: { generateSeconds, customers: dataset.customers, prefill: result, signals } });
  } catch (err) {
    post({ kind: 'failed', error: (err as Error).stack ?? String(err) });
  }
}

if (!isMainThread && (workerData as { stagePrefill?: TouchpointPrefillOptions } | null)?.stagePrefill) {
  await runInWorker((workerData as { stagePrefill: TouchpointPrefillOptions }).stagePrefill);
}
