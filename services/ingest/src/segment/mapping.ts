// How a Segment message (track, page, screen, identify) becomes a touchpoint: a documented, configurable mapping
// (docs/architecture.md §16). The composition root reads SEGMENT_MAPPING_FILE (YAML or JSON) and hands the parsed
// document to parseSegmentMapping; without a file, defaultSegmentMapping applies. Pure: no Fastify, no Kafka.
import { z } from 'zod';

/** Touchpoint fields a mapping may fill from a message (the rest are fixed: customer, time, channel, touchpoint). */
export const MAPPABLE_FIELDS = ['journey', 'stage', 'reason', 'outcome', 'sentiment', 'duration_ms', 'wait_ms', 'agent_id', 'session_id', 'initiator'] as const;
export type MappableField = (typeof MAPPABLE_FIELDS)[number];
const NUMERIC_FIELDS = new Set<MappableField>(['sentiment', 'duration_ms', 'wait_ms']);

/** A dot path into the message, e.g. `properties.journey` or `context.library.name`. */
const pathSchema = z.string().regex(/^[A-Za-z_$][\w$-]*(\.[A-Za-z_$][\w$-]*)*$/, 'must be a dot path such as properties.journey');
const nameSchema = z.string().min(1).max(256);
const fieldValues = z.partialRecord(z.enum(MAPPABLE_FIELDS), z.union([z.string().min(1), z.number()]));

const channelRuleSchema = z
  .strictObject({
    path: pathSchema,
    /** The value at `path` equals one of these (strings compared case-insensitively). */
    equals: z.union([z.string(), z.array(z.string()).min(1)]).optional(),
    /** The value at `path` starts with this (case-insensitively). */
    prefix: z.string().min(1).optional(),
    /** Something is at `path` (e.g. `context.app` is set by mobile libraries). */
    exists: z.literal(true).optional(),
    channel: nameSchema,
  })
  .refine((r) => [r.equals, r.prefix, r.exists].filter((x) => x !== undefined).length === 1, { message: 'give exactly one of equals, prefix or exists' });

const eventRuleSchema = z.union([
  nameSchema,
  z.strictObject({ touchpoint: nameSchema, set: fieldValues.optional() }),
]);

const viewSchema = z.strictObject({ touchpoint: nameSchema, set: fieldValues.optional() });

export const segmentMappingSchema = z.strictObject({
  /** Where customer_id comes from: the first of these message fields that is set. */
  customer_id: z.array(pathSchema).min(1).optional(),
  channel: z
    .strictObject({
      /** A property that names the channel outright wins over the rules, e.g. `properties.channel`. */
      from: pathSchema.optional(),
      rules: z.array(channelRuleSchema).optional(),
      default: nameSchema.optional(),
    })
    .optional(),
  /** Touchpoint field → dot path in the message. Absent or null values leave the field out. */
  fields: z.partialRecord(z.enum(MAPPABLE_FIELDS), pathSchema).optional(),
  /** Fixed field values for every mapped message (e.g. initiator: customer); per-event `set` wins. */
  set: fieldValues.optional(),
  /** Which properties (traits for identify) become touchpoint attributes: all, none, or these names. */
  attributes: z.union([z.enum(['all', 'none']), z.array(z.string().min(1)).min(1)]).optional(),
  /** Track event name → touchpoint name, or { touchpoint, set }. */
  events: z.record(z.string().min(1), eventRuleSchema).optional(),
  /** A track event not in `events`: its name in snake_case becomes the touchpoint, or the event is rejected. */
  unmapped_events: z.enum(['snake_case', 'reject']).optional(),
  page: viewSchema.optional(),
  screen: viewSchema.optional(),
  /**
   * identify: `profile` (default) makes its traits a customer profile update on profiles.v1 (docs/architecture.md
   * §20.6); `dead_letter` keeps the message, traits and all, in touchpoints.invalid.v1; `touchpoint` stores it as a
   * touchpoint (traits as attributes).
   */
  identify: z
    .union([z.literal('profile'), z.literal('dead_letter'), z.strictObject({ touchpoint: nameSchema, set: fieldValues.optional() })])
    .optional(),
});

export type SegmentMappingDocument = z.infer<typeof segmentMappingSchema>;

type FieldValues = Partial<Record<MappableField, string | number>>;

/** A mapping with every default filled in. */
export interface SegmentMapping {
  customerId: string[];
  channel: { from?: string; rules: Array<z.infer<typeof channelRuleSchema>>; default: string };
  fields: Partial<Record<MappableField, string>>;
  set: FieldValues;
  attributes: 'all' | 'none' | string[];
  events: Record<string, { touchpoint: string; set?: FieldValues }>;
  unmappedEvents: 'snake_case' | 'reject';
  page: { touchpoint: string; set?: FieldValues };
  screen: { touchpoint: string; set?: FieldValues };
  identify: 'profile' | 'dead_letter' | { touchpoint: string; set?: FieldValues };
}

/** Library names Segment's own sources send in context.library.name. */
const MOBILE_LIBRARIES = ['analytics-ios', 'analytics-android', 'analytics-react-native', 'analytics-flutter', 'analytics-kotlin', 'analytics-swift', 'analytics-xamarin'];
const BROWSER_LIBRARIES = ['analytics.js', 'analytics-next', '@segment/analytics-next'];

/** The mapping used without SEGMENT_MAPPING_FILE (README "Segment-compatible intake" shows it as YAML). */
export const defaultSegmentMappingDocument: SegmentMappingDocument = {
  customer_id: ['userId', 'anonymousId'],
  channel: {
    from: 'properties.channel',
    rules: [
      { path: 'context.library.name', equals: MOBILE_LIBRARIES, channel: 'app' },
      { path: 'context.app', exists: true, channel: 'app' },
      { path: 'context.device.type', equals: ['ios', 'android'], channel: 'app' },
      { path: 'context.library.name', equals: BROWSER_LIBRARIES, channel: 'web' },
      { path: 'context.page', exists: true, channel: 'web' },
      { path: 'context.userAgent', exists: true, channel: 'web' },
    ],
    default: 'server',
  },
  fields: {
    journey: 'properties.journey',
    stage: 'properties.stage',
    reason: 'properties.reason',
    outcome: 'properties.outcome',
    sentiment: 'properties.sentiment',
    duration_ms: 'properties.duration_ms',
    wait_ms: 'properties.wait_ms',
    agent_id: 'properties.agent_id',
    session_id: 'properties.session_id',
  },
  set: { initiator: 'customer' },
  attributes: 'all',
  events: {},
  unmapped_events: 'snake_case',
  page: { touchpoint: 'page_view' },
  screen: { touchpoint: 'screen_view' },
  identify: 'profile',
};

function resolve(doc: SegmentMappingDocument): SegmentMapping {
  const d = defaultSegmentMappingDocument;
  const events: SegmentMapping['events'] = {};
  for (const [name, rule] of Object.entries(doc.events ?? {})) events[name] = typeof rule === 'string' ? { touchpoint: rule } : rule;
  return {
    customerId: doc.customer_id ?? d.customer_id!,
    channel: {
      from: doc.channel ? doc.channel.from : d.channel!.from,
      rules: doc.channel?.rules ?? d.channel!.rules!,
      default: doc.channel?.default ?? d.channel!.default!,
    },
    fields: doc.fields ?? d.fields!,
    set: doc.set ?? d.set!,
    attributes: doc.attributes ?? d.attributes!,
    events,
    unmappedEvents: doc.unmapped_events ?? d.unmapped_events!,
    page: doc.page ?? d.page!,
    screen: doc.screen ?? d.screen!,
    identify: doc.identify ?? d.identify!,
  };
}

export const defaultSegmentMapping: SegmentMapping = resolve(defaultSegmentMappingDocument);

/** Validates a mapping document (parsed YAML/JSON); every problem names its path. */
export function parseSegmentMapping(doc: unknown): { ok: true; mapping: SegmentMapping } | { ok: false; problems: string[] } {
  const parsed = segmentMappingSchema.safeParse(doc ?? {});
  if (!parsed.success) return { ok: false, problems: parsed.error.issues.map((i) => `${i.path.join('.') || '(document)'}: ${i.message}`) };
  return { ok: true, mapping: resolve(parsed.data) };
}

// ---------------------------------------------------------------------------------------------------------------
// Applying a mapping to one message.

export const SEGMENT_TYPES = ['track', 'page', 'screen', 'identify', 'group', 'alias'] as const;
export type SegmentType = (typeof SEGMENT_TYPES)[number];

export type MappedMessage =
  | { ok: true; touchpoint: Record<string, unknown> }
  /** An identify as a profile update, for the profile validator (as POST /v1/profiles takes it). */
  | { ok: true; profile: Record<string, unknown> }
  | { ok: false; errors: string[] };

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The value at a dot path, or undefined; own properties only, so `__proto__`-like paths reach nothing. */
export function valueAt(message: unknown, path: string): unknown {
  let current: unknown = message;
  for (const key of path.split('.')) {
    if (!isObject(current) || !Object.hasOwn(current, key)) return undefined;
    current = current[key];
  }
  return current;
}

/** `Order Completed` → `order_completed`; `checkoutStarted` → `checkout_started`. */
export function snakeCase(name: string): string {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/[^A-Za-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .toLowerCase();
}

function channelOf(message: Record<string, unknown>, mapping: SegmentMapping): string {
  if (mapping.channel.from) {
    const named = valueAt(message, mapping.channel.from);
    if (typeof named === 'string' && named.trim() !== '') return named.trim();
  }
  for (const rule of mapping.channel.rules) {
    const value = valueAt(message, rule.path);
    if (rule.exists) {
      if (value !== undefined && value !== null) return rule.channel;
      continue;
    }
    if (typeof value !== 'string') continue;
    const v = value.toLowerCase();
    if (rule.prefix !== undefined && v.startsWith(rule.prefix.toLowerCase())) return rule.channel;
    if (rule.equals !== undefined && [rule.equals].flat().some((e) => e.toLowerCase() === v)) return rule.channel;
  }
  return mapping.channel.default;
}

function attributeText(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}

/** A numeric field may arrive as a numeric string from some trackers ("1200"): read as a number then. */
function fieldValue(field: MappableField, value: unknown): unknown {
  if (NUMERIC_FIELDS.has(field) && typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value))) return Number(value);
  return value;
}

/**
 * An identify's traits as a profile update: scalar traits as they are (strings, numbers, booleans, null removes), nested
 * objects one level down as `parent.child` (Segment's `address: {city}` → `address.city`), arrays and deeper values left
 * out; messageId becomes profile_id and the message's time updated_at, so a resent batch is one update. The profile
 * validator then checks it exactly as on POST /v1/profiles (an identify without traits is rejected there).
 */
function profileOf(message: Record<string, unknown>, customerId: string, receivedAtMs: number): Record<string, unknown> {
  const attributes: Record<string, unknown> = {};
  const scalar = (v: unknown) => v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';
  if (isObject(message.traits)) {
    for (const [name, value] of Object.entries(message.traits)) {
      if (scalar(value)) attributes[name] = value;
      else if (isObject(value)) for (const [child, v] of Object.entries(value)) if (scalar(v)) attributes[`${name}.${child}`] = v;
    }
  }
  return {
    customer_id: customerId,
    updated_at: message.timestamp ?? message.originalTimestamp ?? receivedAtMs,
    attributes,
    ...(typeof message.messageId === 'string' && message.messageId !== '' ? { profile_id: message.messageId } : {}),
  };
}

/**
 * One Segment message (its type already known: from the route or its `type` field) → a touchpoint for the
 * validator, or the reasons it cannot be one. The touchpoint is then validated exactly like a POST /v1/events
 * event, so its bounds and reasons are the same.
 */
export function mapSegmentMessage(message: unknown, mapping: SegmentMapping, receivedAtMs: number): MappedMessage {
  if (!isObject(message)) return { ok: false, errors: ['segment: a message must be a JSON object'] };
  const type = message.type;
  if (typeof type !== 'string' || !(SEGMENT_TYPES as readonly string[]).includes(type)) {
    return { ok: false, errors: [`segment: type must be one of ${SEGMENT_TYPES.join(', ')}${type === undefined ? ' (it is missing)' : ` (got ${JSON.stringify(type)})`}`] };
  }
  const errors: string[] = [];
  const customerPath = mapping.customerId.find((p) => {
    const v = valueAt(message, p);
    return (typeof v === 'string' && v !== '') || typeof v === 'number';
  });
  if (!customerPath) errors.push(`segment: one of ${mapping.customerId.join(', ')} is required (it becomes customer_id)`);

  let touchpoint: string | undefined;
  let set: FieldValues | undefined;
  let attributeSource: unknown = message.properties;
  const extraAttributes: Record<string, string> = {};
  switch (type as SegmentType) {
    case 'track': {
      const event = message.event;
      if (typeof event !== 'string' || event.trim() === '') {
        errors.push('segment: track needs an event name (event)');
        break;
      }
      const rule = mapping.events[event];
      if (rule) {
        touchpoint = rule.touchpoint;
        set = rule.set;
      } else if (mapping.unmappedEvents === 'snake_case' && snakeCase(event) !== '') {
        touchpoint = snakeCase(event);
      } else {
        errors.push(`segment: track event ${JSON.stringify(event)} is not in the mapping's events, and unmapped_events is reject`);
      }
      break;
    }
    case 'page':
    case 'screen': {
      const view = type === 'page' ? mapping.page : mapping.screen;
      touchpoint = view.touchpoint;
      set = view.set;
      const name = attributeText(message.name);
      const category = attributeText(message.category);
      if (name !== undefined) extraAttributes[`${type}_name`] = name;
      if (category !== undefined) extraAttributes[`${type}_category`] = category;
      break;
    }
    case 'identify': {
      if (mapping.identify === 'profile') {
        if (errors.length > 0) return { ok: false, errors };
        return { ok: true, profile: profileOf(message, String(valueAt(message, customerPath!)), receivedAtMs) };
      }
      if (mapping.identify === 'dead_letter') {
        errors.push(
          'segment: identify is not stored: the Segment mapping says identify: dead_letter, so this dead letter keeps the message (set identify: profile to keep traits as profile attributes, or identify: { touchpoint: … } to store identifies as touchpoints)',
        );
        break;
      }
      touchpoint = mapping.identify.touchpoint;
      set = mapping.identify.set;
      attributeSource = message.traits;
      break;
    }
    default:
      errors.push(`segment: ${type} messages are not supported (touchstream maps track, page, screen and identify)`);
  }
  if (errors.length > 0) return { ok: false, errors };

  const out: Record<string, unknown> = {
    customer_id: String(valueAt(message, customerPath!)),
    occurred_at: message.timestamp ?? message.originalTimestamp ?? receivedAtMs,
    channel: channelOf(message, mapping),
    touchpoint,
  };
  if (typeof message.messageId === 'string' && message.messageId !== '') out.event_id = message.messageId;

  const usedProperties = new Set<string>();
  for (const [field, path] of Object.entries(mapping.fields) as Array<[MappableField, string]>) {
    const value = valueAt(message, path);
    if (value === undefined || value === null) continue;
    out[field] = fieldValue(field, value);
    if (path.startsWith('properties.') && !path.slice(11).includes('.')) usedProperties.add(path.slice(11));
  }
  for (const [field, value] of Object.entries({ ...mapping.set, ...set })) if (out[field] === undefined || (set && field in set)) out[field] = value;
  if (mapping.channel.from?.startsWith('properties.')) usedProperties.add(mapping.channel.from.slice(11));

  const attributes: Record<string, string> = {};
  if (mapping.attributes !== 'none' && isObject(attributeSource)) {
    const names = mapping.attributes === 'all' ? Object.keys(attributeSource).filter((k) => !usedProperties.has(k)) : mapping.attributes;
    for (const name of names) {
      if (!Object.hasOwn(attributeSource, name)) continue;
      const text = attributeText(attributeSource[name]);
      if (text !== undefined) attributes[name] = text;
    }
  }
  Object.assign(attributes, extraAttributes);
  if (Object.keys(attributes).length > 0) out.attributes = attributes;
  return { ok: true, touchpoint: out };
}
