// From parsed items to what goes to Kafka and what the client is told: valid events Avro-encoded and keyed by
// customer (docs/architecture.md §3), rejected ones as dead letters keyed by source. Pure (dead-letter ids aside), so it is
// tested without Kafka.
import { createHash, randomUUID } from 'node:crypto';
import { codecs, type TouchpointEvent, type TouchpointValidator } from '@touchstream/contracts';
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
  /** Set when the event is refused rather than invalid: CUSTOMER_ERASED (409, not dead-lettered: it would keep the id). */
  code?: 'CUSTOMER_ERASED';
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
  /** Pseudonymisation (§14): the customer_id stored for the one sent; identity when off. */
  storedCustomerId?: (customerId: string) => string;
  /** ERASED_CUSTOMER_POLICY=refuse: whether a (stored) customer_id was erased; its events are refused with 409. */
  isErased?: (storedCustomerId: string) => boolean;
}

/** JSON with object keys sorted at every level: the same event always serialises to the same text. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * The event_id of an event posted without one: a name-based UUID (version 8, RFC 9562) from SHA-256 of the
 * write key's source and the canonical event (every field as validated — occurred_at in epoch micros,
 * absent optionals as null — except received_at). Why not a random id: ingest answers 503 after
 * INGEST_SEND_TIMEOUT_MS while Kafka may still take the write later; the client's retry of the same event
 * then gets the same id, so the processor and sink count it once. The price: two events from one source
 * that are identical in every field (to the microsecond) are one event; a client that means two must give
 * them event_ids.
 */
export function derivedEventId(source: string, event: Omit<TouchpointEvent, 'event_id' | 'received_at'> & Partial<TouchpointEvent>): string {
  const { event_id: _id, received_at: _received, text, ...rest } = event;
  // `text` came later (issue 16): left out while null, an event without text keeps the id it had before, so a retry
  // that spans an upgrade is still the same event.
  const content = text == null ? rest : { ...rest, text };
  const digest = createHash('sha256').update(`touchstream.event_id.v1\0${source}\0${canonicalJson(content)}`).digest();
  digest[6] = (digest[6]! & 0x0f) | 0x80; // version 8
  digest[8] = (digest[8]! & 0x3f) | 0x80; // RFC 9562 variant
  const hex = digest.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function hasClientEventId(value: unknown): boolean {
  const id = (value as { event_id?: unknown }).event_id;
  return id !== undefined && id !== null;
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
    const validated = opts.storedCustomerId ? { ...result.event, customer_id: opts.storedCustomerId(result.event.customer_id) } : result.event;
    if (opts.isErased?.(validated.customer_id)) {
      batch.rejected.push({
        index: item.index,
        code: 'CUSTOMER_ERASED',
        errors: ['customer_id: this customer was erased and this deployment refuses new events for erased customers (ERASED_CUSTOMER_POLICY=refuse)'],
      });
      continue;
    }
    const event = hasClientEventId(item.value) ? validated : { ...validated, event_id: derivedEventId(opts.source, validated) };
    let value: Buffer;
    try {
      value = codecs.touchpoint.encode(event);
    } catch (err) {
      // The validator mirrors the Avro schema, so this means the two drifted apart; still the client's event
      // is what cannot be stored, so it is rejected with the reason rather than failing the request.
      reject(item, [`event: cannot be encoded as a touchpoint: ${(err as Error).message}`]);
      continue;
    }
    batch.touchpoints.push({ key: event.customer_id, value, headers: { source: opts.source } });
    batch.eventIds.push(event.event_id);
  }
  return batch;
}
