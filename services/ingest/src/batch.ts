// From parsed items to what goes to Kafka and what the client is told: valid events Avro-encoded and keyed by
// customer (DESIGN §3), rejected ones as dead letters keyed by source. Pure apart from the validator's
// event_id generation, so it is tested without Kafka.
import { randomUUID } from 'node:crypto';
import { codecs, type TouchpointValidator } from '@touchstream/schemas';
import type { BodyItem } from './body.ts';

/** The message shape kafkajs `send` takes; values are Avro single-object encoded. */
export interface IngestMessage {
  key: string;
  value: Buffer;
  headers: Record<string, string>;
}

export interface RejectedEvent {
  /** Position in the request: array index, or NDJSON line number − 1. */
  index: number;
  errors: string[];
}

export interface PreparedBatch {
  touchpoints: IngestMessage[];
  deadLetters: IngestMessage[];
  rejected: RejectedEvent[];
  /** event_id of each accepted event, in request order. */
  eventIds: string[];
}

export interface DeadLetterInput {
  source: string;
  reasons: string[];
  /** The raw bytes as received: the event's JSON, the NDJSON line, or the whole body when it did not parse. */
  payload: Buffer;
  contentType: string | null;
  requestIndex: number | null;
  receivedAtMs: number;
}

export function deadLetterMessage(input: DeadLetterInput): IngestMessage {
  const value = codecs.deadLetter.encode({
    dead_letter_id: randomUUID(),
    source: input.source,
    stage: 'ingest',
    payload: input.payload,
    content_type: input.contentType,
    reasons: input.reasons,
    received_at: input.receivedAtMs * 1000,
    origin_topic: null,
    origin_partition: null,
    origin_offset: null,
    request_index: input.requestIndex,
  });
  return { key: input.source, value, headers: { stage: 'ingest', source: input.source } };
}

export interface PrepareBatchOptions {
  validator: TouchpointValidator;
  source: string;
  /** The request's media type, recorded on dead letters. */
  contentType: string;
  nowMs: number;
}

export function prepareBatch(items: BodyItem[], opts: PrepareBatchOptions): PreparedBatch {
  const batch: PreparedBatch = { touchpoints: [], deadLetters: [], rejected: [], eventIds: [] };
  const reject = (item: BodyItem, errors: string[]) => {
    batch.rejected.push({ index: item.index, errors });
    batch.deadLetters.push(
      deadLetterMessage({
        source: opts.source,
        reasons: errors,
        payload: item.raw,
        contentType: opts.contentType,
        requestIndex: item.index,
        receivedAtMs: opts.nowMs,
      }),
    );
  };
  for (const item of items) {
    if (!item.ok) {
      reject(item, item.errors);
      continue;
    }
    const result = opts.validator.validate(item.value, opts.nowMs);
    if (!result.ok) {
      reject(item, result.errors);
      continue;
    }
    let value: Buffer;
    try {
      value = codecs.touchpoint.encode(result.event);
    } catch (err) {
      // The validator mirrors the Avro schema, so this means the two drifted apart; still the client's event
      // is what cannot be stored, so it is rejected with the reason rather than failing the request.
      reject(item, [`event: cannot be encoded as a touchpoint: ${(err as Error).message}`]);
      continue;
    }
    batch.touchpoints.push({ key: result.event.customer_id, value, headers: { source: opts.source } });
    batch.eventIds.push(result.event.event_id);
  }
  return batch;
}
