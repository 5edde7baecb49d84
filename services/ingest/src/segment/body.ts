// A Segment HTTP API body → items for prepareBatch (the same path as POST /v1/events): each message keeps its own
// raw JSON for the dead-letter topic and carries the mapped touchpoint (or, for an identify, profile) or why it cannot
// be one. Pure.
//   /v1/batch: { batch: [message, …], context?, integrations?, sentAt? } — batch-level context is merged under
//              each message's own (the message wins), as Segment does.
//   /v1/track, /v1/page, /v1/screen, /v1/identify: one message; its type is the route's.
import type { BodyItem, ParsedBody } from '../body.ts';
import { depthExceeds, forbiddenKeyIn, MAX_EVENT_DEPTH, parseJsonText } from '../body.ts';
import { mapSegmentMessage, type SegmentMapping } from './mapping.ts';

export type SegmentRoute = 'batch' | 'track' | 'page' | 'screen' | 'identify';

export type ParsedSegmentBody = ParsedBody | { kind: 'not-a-batch'; message: string };

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export interface ParseSegmentOptions {
  route: SegmentRoute;
  mapping: SegmentMapping;
  maxEvents: number;
  receivedAtMs: number;
}

export function parseSegmentBody(body: Buffer, opts: ParseSegmentOptions): ParsedSegmentBody {
  const text = body.toString('utf8');
  if (text.trim() === '') return { kind: 'empty' };
  const parsed = parseJsonText(text);
  if (!parsed.ok) return { kind: 'invalid-json', ...parsed.error };
  const value = parsed.value;
  // The batch wrapper and its array add two levels to an event's own.
  if (depthExceeds(value, MAX_EVENT_DEPTH + 2)) return { kind: 'not-a-batch', message: `the body is nested more than ${MAX_EVENT_DEPTH} levels deep` };
  const forbidden = forbiddenKeyIn(value);
  if (!isObject(value)) {
    return { kind: 'not-a-batch', message: opts.route === 'batch' ? 'the body must be a JSON object with a "batch" array of messages' : `the body must be one ${opts.route} message (a JSON object)` };
  }
  if (opts.route !== 'batch') {
    const raw = body;
    if (forbidden) return { kind: 'items', items: [{ index: 0, raw, ok: false, errors: [forbidden] }] };
    // Segment's single-message routes take the type from the path; a different `type` in the body is refused.
    if (value.type !== undefined && value.type !== opts.route) {
      return { kind: 'items', items: [{ index: 0, raw, ok: false, errors: [`segment: this is /v1/${opts.route}, but the message's type is ${JSON.stringify(value.type)}`] }] };
    }
    return { kind: 'items', items: [itemOf(0, raw, { ...value, type: opts.route }, opts)] };
  }
  const batch = value.batch;
  if (!Array.isArray(batch)) return { kind: 'not-a-batch', message: 'the body must be a JSON object with a "batch" array of messages (Segment HTTP API /v1/batch)' };
  if (batch.length === 0) return { kind: 'empty' };
  if (batch.length > opts.maxEvents) return { kind: 'too-many-events', count: batch.length, limit: opts.maxEvents };
  const sharedContext = isObject(value.context) ? value.context : undefined;
  return {
    kind: 'items',
    items: batch.map((message, index) => {
      const raw = Buffer.from(JSON.stringify(message) ?? 'null', 'utf8');
      const bad = forbiddenKeyIn(message);
      if (bad) return { index, raw, ok: false, errors: [bad] };
      const withContext = sharedContext && isObject(message) ? { ...message, context: { ...sharedContext, ...(isObject(message.context) ? message.context : {}) } } : message;
      return itemOf(index, raw, withContext, opts);
    }),
  };
}

/** A mapped message: a touchpoint item, or (an identify) a profile item. */
export type SegmentItem = BodyItem & { profile?: true };

function itemOf(index: number, raw: Buffer, message: unknown, opts: ParseSegmentOptions): SegmentItem {
  const mapped = mapSegmentMessage(message, opts.mapping, opts.receivedAtMs);
  if (!mapped.ok) return { index, raw, ok: false, errors: mapped.errors };
  return 'profile' in mapped ? { index, raw, ok: true, value: mapped.profile, profile: true } : { index, raw, ok: true, value: mapped.touchpoint };
}
