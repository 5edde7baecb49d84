import { describe, expect, it } from 'vitest';
import { createTouchpointValidator } from '@touchstream/contracts';
import { defaultSegmentMapping, mapSegmentMessage, parseSegmentMapping, snakeCase } from './mapping.ts';
import { parseSegmentBody } from './body.ts';

const nowMs = Date.parse('2026-01-31T10:00:00Z');
const validator = createTouchpointValidator();
const track = (fields: Record<string, unknown> = {}) => ({
  type: 'track',
  event: 'Checkout Started',
  userId: 'cust-1',
  messageId: 'msg-1',
  timestamp: '2026-01-31T09:59:00.000Z',
  properties: { journey: 'purchase', stage: 'checkout', cart_value: 129.9, coupon: null },
  context: { library: { name: 'analytics.js', version: '2.1.0' } },
  ...fields,
});

function mapped(message: unknown, mapping = defaultSegmentMapping) {
  const result = mapSegmentMessage(message, mapping, nowMs);
  if (!result.ok) throw new Error(result.errors.join('; '));
  if (!('touchpoint' in result)) throw new Error('mapped to a profile, not a touchpoint');
  return result.touchpoint;
}

describe('the default Segment mapping', () => {
  it('turns a track into a valid touchpoint: event name in snake_case, messageId as event_id, properties as fields and attributes', () => {
    const touchpoint = mapped(track());
    expect(touchpoint).toEqual({
      event_id: 'msg-1',
      customer_id: 'cust-1',
      occurred_at: '2026-01-31T09:59:00.000Z',
      channel: 'web',
      touchpoint: 'checkout_started',
      initiator: 'customer',
      journey: 'purchase',
      stage: 'checkout',
      attributes: { cart_value: '129.9' },
    });
    expect(validator.validate(touchpoint, nowMs).ok).toBe(true);
  });

  it('reads the channel from context: mobile libraries and context.app are app, node is server, properties.channel wins', () => {
    expect(mapped(track({ context: { library: { name: 'analytics-ios' } } })).channel).toBe('app');
    expect(mapped(track({ context: { app: { name: 'Shop' }, library: { name: 'custom' } } })).channel).toBe('app');
    expect(mapped(track({ context: { library: { name: '@segment/analytics-node' } } })).channel).toBe('server');
    expect(mapped(track({ context: { page: { path: '/x' } } })).channel).toBe('web');
    expect(mapped(track({ properties: { channel: 'kiosk' } })).channel).toBe('kiosk');
  });

  it('uses anonymousId when there is no userId, and reads numeric strings for numeric fields', () => {
    const t = mapped(track({ userId: undefined, anonymousId: 'anon-9', properties: { duration_ms: '1200', sentiment: -0.5, outcome: 'abandoned' } }));
    expect(t).toMatchObject({ customer_id: 'anon-9', duration_ms: 1200, sentiment: -0.5, outcome: 'abandoned' });
  });

  it('maps page and screen views with their name, and takes the time of the message or of receipt', () => {
    const page = mapped({ type: 'page', userId: 'c', name: 'Pricing', category: 'Docs', properties: { path: '/pricing' } });
    expect(page).toMatchObject({ touchpoint: 'page_view', occurred_at: nowMs, attributes: { path: '/pricing', page_name: 'Pricing', page_category: 'Docs' } });
    expect(mapped({ type: 'screen', userId: 'c', name: 'Home', originalTimestamp: '2026-01-31T09:00:00Z' })).toMatchObject({ touchpoint: 'screen_view', occurred_at: '2026-01-31T09:00:00Z', attributes: { screen_name: 'Home' } });
  });

  it('rejects with a reason what cannot become a touchpoint', () => {
    const reasons = (m: unknown) => {
      const r = mapSegmentMessage(m, defaultSegmentMapping, nowMs);
      return r.ok ? [] : r.errors;
    };
    expect(reasons(track({ userId: undefined }))).toEqual(['segment: one of userId, anonymousId is required (it becomes customer_id)']);
    expect(reasons(track({ event: '' }))).toEqual(['segment: track needs an event name (event)']);
    expect(reasons({ type: 'group', userId: 'c', groupId: 'g' })).toEqual(['segment: group messages are not supported (touchstream maps track, page, screen and identify)']);
    expect(reasons({ userId: 'c' })[0]).toMatch(/type must be one of .* \(it is missing\)/);
    expect(reasons('x')).toEqual(['segment: a message must be a JSON object']);
  });

  it('makes an identify a profile update: scalar traits, nested objects one level down, messageId and timestamp kept', () => {
    const result = mapSegmentMessage(
      { type: 'identify', userId: 'c', messageId: 'm-9', timestamp: '2026-01-31T09:30:00Z', traits: { plan: 'pro', age: 41, vip: true, churned: null, address: { city: 'Lyon', geo: { lat: 1 } }, tags: ['a'] } },
      defaultSegmentMapping,
      nowMs,
    );
    expect(result).toEqual({
      ok: true,
      profile: { customer_id: 'c', profile_id: 'm-9', updated_at: '2026-01-31T09:30:00Z', attributes: { plan: 'pro', age: 41, vip: true, churned: null, 'address.city': 'Lyon' } },
    });
    // Without a timestamp, the receipt time; without traits, no attributes (the profile validator rejects that).
    expect(mapSegmentMessage({ type: 'identify', anonymousId: 'anon' }, defaultSegmentMapping, nowMs)).toEqual({ ok: true, profile: { customer_id: 'anon', updated_at: nowMs, attributes: {} } });
    // dead_letter keeps the old behaviour: a dead letter that says why.
    const deadLetter = parseSegmentMapping({ identify: 'dead_letter' });
    if (!deadLetter.ok) throw new Error(deadLetter.problems.join('; '));
    expect(mapSegmentMessage({ type: 'identify', userId: 'c', traits: { plan: 'pro' } }, deadLetter.mapping, nowMs)).toEqual({ ok: false, errors: [expect.stringMatching(/^segment: identify is not stored/)] });
  });
});

describe('a configured mapping', () => {
  const doc = {
    events: { 'Order Completed': { touchpoint: 'order_completed', set: { outcome: 'completed', journey: 'purchase' } }, 'Support Call': 'support_call' },
    unmapped_events: 'reject',
    channel: { rules: [{ path: 'context.os.name', prefix: 'ios', channel: 'ios_app' }], default: 'other' },
    fields: { reason: 'properties.topic' },
    attributes: ['order_id'],
    identify: { touchpoint: 'profile_update' },
  };
  const parsed = parseSegmentMapping(doc);
  if (!parsed.ok) throw new Error(parsed.problems.join('; '));
  const mapping = parsed.mapping;

  it('maps named events with fixed fields, only the listed attributes, and its own channel rules', () => {
    const t = mapped(track({ event: 'Order Completed', properties: { order_id: 'o-1', topic: 'delivery', total: 10 }, context: { os: { name: 'iOS' } } }), mapping);
    expect(t).toMatchObject({ touchpoint: 'order_completed', outcome: 'completed', journey: 'purchase', reason: 'delivery', channel: 'ios_app', attributes: { order_id: 'o-1' } });
    expect(mapped(track({ event: 'Support Call', context: {} }), mapping)).toMatchObject({ touchpoint: 'support_call', channel: 'other' });
    expect(mapSegmentMessage(track({ event: 'Other Thing' }), mapping, nowMs)).toEqual({ ok: false, errors: [expect.stringMatching(/"Other Thing" is not in the mapping's events, and unmapped_events is reject/)] });
  });

  it('stores identify as a touchpoint with traits as attributes when told to', () => {
    const t = mapped({ type: 'identify', userId: 'c-1', traits: { plan: 'pro', email: 'x@example.com' } }, { ...mapping, attributes: 'all' });
    expect(t).toMatchObject({ touchpoint: 'profile_update', customer_id: 'c-1', attributes: { plan: 'pro', email: 'x@example.com' } });
  });

  it('is refused with every problem named', () => {
    const bad = parseSegmentMapping({ events: { X: 5 }, channel: { rules: [{ path: 'context..x', channel: 'web' }] }, identify: 'sometimes', extra: 1 });
    expect(bad.ok).toBe(false);
    const problems = bad.ok ? [] : bad.problems;
    expect(problems.some((p) => p.startsWith('events.X'))).toBe(true);
    expect(problems.some((p) => p.startsWith('channel.rules.0'))).toBe(true);
    expect(problems.some((p) => p.startsWith('identify'))).toBe(true);
    expect(problems.some((p) => /extra/.test(p))).toBe(true);
  });
});

describe('a Segment body', () => {
  const parse = (body: unknown, route: 'batch' | 'track' | 'identify' = 'batch') =>
    parseSegmentBody(Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)), { route, mapping: defaultSegmentMapping, maxEvents: 3, receivedAtMs: nowMs });

  it('is a batch of messages, each with its own raw JSON; batch-level context is merged under the message’s', () => {
    const parsed = parse({ batch: [track({ context: undefined }), { type: 'alias', userId: 'a', previousId: 'b' }], context: { library: { name: 'analytics-ios' } } });
    if (parsed.kind !== 'items') throw new Error(parsed.kind);
    expect(parsed.items[0]).toMatchObject({ ok: true, value: { channel: 'app', touchpoint: 'checkout_started' } });
    expect(parsed.items[1]).toMatchObject({ index: 1, ok: false, errors: [expect.stringMatching(/alias messages are not supported/)] });
    expect(JSON.parse(parsed.items[1]!.raw.toString())).toEqual({ type: 'alias', userId: 'a', previousId: 'b' });
  });

  it('is one message on the single-message routes, typed by the route', () => {
    const parsed = parse({ ...track(), type: undefined }, 'track');
    expect(parsed).toMatchObject({ kind: 'items', items: [{ ok: true, value: { touchpoint: 'checkout_started' } }] });
    expect(parse(track(), 'identify')).toMatchObject({ kind: 'items', items: [{ ok: false, errors: [expect.stringMatching(/this is \/v1\/identify, but the message's type is "track"/)] }] });
  });

  it('refuses what is not a Segment body, too many messages, and prototype keys', () => {
    expect(parse([track()])).toMatchObject({ kind: 'not-a-batch' });
    expect(parse({ events: [] })).toMatchObject({ kind: 'not-a-batch' });
    expect(parse({ batch: [] })).toEqual({ kind: 'empty' });
    expect(parse({ batch: [1, 2, 3, 4] })).toEqual({ kind: 'too-many-events', count: 4, limit: 3 });
    expect(parse('{"batch": [')).toMatchObject({ kind: 'invalid-json' });
    expect(parse('{"batch":[{"type":"track","__proto__":{"x":1}}]}')).toMatchObject({ kind: 'items', items: [{ ok: false, errors: [expect.stringMatching(/__proto__/)] }] });
    expect(parse(`{"batch":[${'['.repeat(100)}${']'.repeat(100)}]}`)).toMatchObject({ kind: 'not-a-batch', message: expect.stringMatching(/nested more than/) });
  });
});

describe('snakeCase', () => {
  it('makes touchpoint names out of event names', () => {
    expect(snakeCase('Order Completed')).toBe('order_completed');
    expect(snakeCase('checkoutStarted')).toBe('checkout_started');
    expect(snakeCase('  Signed-Up!! ')).toBe('signed_up');
  });
});
