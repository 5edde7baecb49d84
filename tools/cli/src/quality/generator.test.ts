import { describe, expect, it } from 'vitest';
import { defaultCatalogueRules, expectedSignals, type CatalogueRules, type CatalogueTouchpoint } from './catalogue.ts';
import { generateStories, materializeStory, STORY_KINDS, TIMED_JOURNEY, type StoryKind } from './generator.ts';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const NOW = Date.parse('2026-11-23T12:00:00Z');
const TIMER_MS = 120_000;
const rules: CatalogueRules = { ...defaultCatalogueRules, journeyExpectedMs: (j) => (j === TIMED_JOURNEY ? TIMER_MS : 48 * HOUR) };

function storiesOf(kind: StoryKind, seed = 7, events = 6000) {
  return generateStories({ seed, events, timerExpectedMs: TIMER_MS, customerPrefix: 't-' })
    .filter((s) => s.kind === kind)
    .map((s) => materializeStory(s, NOW, rules));
}

const labelTypes = (m: { labels: Array<{ type: string }> }) => m.labels.map((l) => l.type).sort();

describe('generateStories', () => {
  it('is deterministic for a seed and differs between seeds', () => {
    const a = generateStories({ seed: 1, events: 500, timerExpectedMs: TIMER_MS, customerPrefix: 'x-' });
    const b = generateStories({ seed: 1, events: 500, timerExpectedMs: TIMER_MS, customerPrefix: 'x-' });
    const c = generateStories({ seed: 2, events: 500, timerExpectedMs: TIMER_MS, customerPrefix: 'x-' });
    expect(a).toEqual(b);
    expect(c).not.toEqual(a);
    expect(a.reduce((n, s) => n + s.steps.length, 0)).toBeGreaterThanOrEqual(500);
  });

  it('draws every kind, ends each story at 0 and keeps its touchpoints in time order', () => {
    const stories = generateStories({ seed: 3, events: 6000, timerExpectedMs: TIMER_MS, customerPrefix: 'x-' });
    expect(new Set(stories.map((s) => s.kind))).toEqual(new Set(STORY_KINDS));
    for (const s of stories) {
      const times = s.steps.map((x) => x.atMs);
      expect(times).toEqual([...times].sort((p, q) => p - q));
      if (s.kind === 'backfill') expect(times.at(-1)).toBeLessThan(-30 * DAY);
      else {
        expect(times.at(-1)).toBe(0);
        // Live stories stay well inside the 30-day backfill horizon.
        expect(times[0]).toBeGreaterThan(-25 * DAY);
      }
    }
  });

  it('draws timer stories only in the first half of the customers, so they come due while the rest is posted', () => {
    const stories = generateStories({ seed: 4, events: 6000, timerExpectedMs: TIMER_MS, customerPrefix: 'x-' });
    const lastTimer = stories.findLastIndex((s) => s.kind.startsWith('journey_not_completed'));
    expect(lastTimer).toBeGreaterThan(0);
    expect(lastTimer).toBeLessThan(stories.length * 0.6);
  });
});

describe('labels of each story kind', () => {
  // Each positive story labels its own signal type (and, where the story legitimately raises more, those too);
  // each near miss labels nothing of its type.
  const positives: Array<[StoryKind, string]> = [
    ['detractor', 'survey_detractor'],
    ['negative_sentiment', 'negative_sentiment'],
    ['repeat_contact', 'repeat_contact'],
    ['channel_hopping', 'channel_hopping'],
    ['self_service_failure', 'self_service_failure'],
    ['sla_breach', 'sla_breach'],
    ['sentiment_decline', 'sentiment_decline'],
    ['escalation', 'escalation'],
    ['complaint', 'complaint'],
    ['journey_not_completed', 'journey_not_completed'],
    ['repeated_error', 'repeated_error'],
  ];
  it.each(positives)('%s labels exactly one %s (on the right event)', (kind, type) => {
    const stories = storiesOf(kind);
    expect(stories.length).toBeGreaterThan(5);
    for (const m of stories) {
      const own = m.labels.filter((l) => l.type === type);
      expect(own, JSON.stringify(m.events)).toHaveLength(1);
      const others = m.labels.filter((l) => l.type !== type).map((l) => l.type);
      // The only other signal a single-purpose story may raise: a decline that ends ≤ −0.5.
      expect(others.every((t) => kind === 'sentiment_decline' && t === 'negative_sentiment'), JSON.stringify(m)).toBe(true);
      const firesOn = own[0]!.event_id;
      // The timer fires on the started event; everything else on the last touchpoint of the story.
      if (type === 'journey_not_completed') {
        expect(m.events.find((e) => e.event_id === firesOn)?.outcome).toBe('started');
        const startedAt = Date.parse(m.events.find((e) => e.event_id === firesOn)!.occurred_at);
        expect(own[0]!.dueAtMs).toBe(startedAt + TIMER_MS);
        expect(own[0]!.dueAtMs! - NOW).toBeGreaterThanOrEqual(TIMER_MS / 2);
      } else {
        expect(firesOn).toBe(m.events.at(-1)!.event_id);
      }
    }
  });

  it.each(positives)('%s_near labels nothing', (kind) => {
    const stories = storiesOf(`${kind}_near` as StoryKind);
    expect(stories.length).toBeGreaterThan(5);
    for (const m of stories) expect(m.labels, JSON.stringify(m.events)).toEqual([]);
  });

  it('tests the windows at their edges: exactly the window (positive) and one second past it (near miss)', () => {
    const spans = (kind: StoryKind) => storiesOf(kind, 11, 20_000).map((m) => Date.parse(m.events.at(-1)!.occurred_at) - Date.parse(m.events[0]!.occurred_at));
    expect(spans('repeat_contact')).toContain(7 * DAY);
    expect(spans('repeat_contact_near')).toContain(7 * DAY + 1000);
    expect(spans('self_service_failure')).toContain(HOUR);
    expect(spans('self_service_failure_near')).toContain(HOUR + 1000);
    expect(spans('repeated_error')).toContain(HOUR);
    expect(spans('repeated_error_near')).toContain(HOUR + 1000);
    expect(spans('channel_hopping')).toContain(DAY);
    expect(spans('channel_hopping_near')).toContain(DAY + 1000);
  });

  it('a completed-in-time timer story is due at least 20 % of the expected duration after it is posted', () => {
    for (const m of storiesOf('journey_not_completed_near')) {
      const started = Date.parse(m.events[0]!.occurred_at);
      expect(started + TIMER_MS - NOW).toBeGreaterThanOrEqual(0.2 * TIMER_MS - 1);
    }
  });

  it('happy journeys and stories beyond the backfill horizon label nothing; backfill events are named', () => {
    for (const m of storiesOf('happy')) expect(m).toMatchObject({ labels: [], backfillEventIds: [] });
    for (const m of storiesOf('backfill')) expect(m).toMatchObject({ labels: [], backfillEventIds: m.events.map((e) => e.event_id) });
  });

  it('a mixed story is two stories of one customer, in time order, labelled as a whole', () => {
    const stories = storiesOf('mixed');
    expect(stories.length).toBeGreaterThan(10);
    for (const m of stories) {
      const times = m.events.map((e) => Date.parse(e.occurred_at));
      expect(times).toEqual([...times].sort((a, b) => a - b));
      expect(m.events.length).toBeGreaterThanOrEqual(2);
      expect(m.events.some((e) => e.outcome === 'started')).toBe(false);
    }
    // Together they raise more than either alone sometimes (e.g. a repeat across the two).
    expect(stories.some((m) => m.labels.length >= 2)).toBe(true);
  });

  it('a bad day labels every signal it raises', () => {
    const stories = storiesOf('bad_day');
    expect(stories.length).toBeGreaterThan(3);
    for (const m of stories) {
      // IVR then call about the same reason is already a repeat; the call days later is another.
      expect(labelTypes(m)).toEqual(['escalation', 'negative_sentiment', 'negative_sentiment', 'repeat_contact', 'repeat_contact', 'self_service_failure', 'sla_breach', 'survey_detractor']);
    }
  });

  it('assigns stable event ids and anchors the last touchpoint at the given time', () => {
    const [m] = storiesOf('repeat_contact');
    expect(m!.events.map((e) => e.event_id)).toEqual([`${m!.story.customer_id}.0`, `${m!.story.customer_id}.1`]);
    expect(m!.events.at(-1)!.occurred_at).toBe(new Date(NOW).toISOString());
  });
});

describe('the catalogue on hand-made cases', () => {
  let n = 0;
  const tp = (minutesAgo: number, fields: Partial<CatalogueTouchpoint>): CatalogueTouchpoint => ({
    event_id: `e${n++}`,
    occurredAtMs: NOW - minutesAgo * MINUTE,
    channel: 'web',
    touchpoint: 'page',
    initiator: 'customer',
    ...fields,
  });
  const types = (tps: CatalogueTouchpoint[]) => expectedSignals(tps, NOW, rules).map((s) => `${s.type}@${s.event_id}`);

  it('repeat contact: within 7 days fires on the repeat; after 8 days or company-initiated does not', () => {
    const a = tp(6 * 24 * 60, { channel: 'phone', reason: 'billing' });
    const b = tp(0, { channel: 'phone', reason: 'billing' });
    expect(types([a, b])).toEqual([`repeat_contact@${b.event_id}`]);
    expect(types([tp(8 * 24 * 60, { channel: 'phone', reason: 'billing' }), tp(0, { channel: 'phone', reason: 'billing' })])).toEqual([]);
    expect(types([tp(60, { channel: 'phone', reason: 'billing' }), tp(0, { channel: 'phone', reason: 'billing', initiator: 'company' })])).toEqual([]);
  });

  it('channel hopping: the third channel within 24 h, once', () => {
    const third = tp(60, { channel: 'chat', journey: 'j' });
    expect(types([tp(600, { journey: 'j' }), tp(300, { channel: 'mobile_app', journey: 'j' }), third, tp(0, { channel: 'phone', journey: 'j' })]))
      .toEqual([`channel_hopping@${third.event_id}`]);
    expect(types([tp(30 * 60, { journey: 'j' }), tp(15 * 60, { channel: 'mobile_app', journey: 'j' }), tp(0, { channel: 'store', journey: 'j' })])).toEqual([]);
  });

  it('self-service failure: an assisted contact within the hour of a failed/abandoned self-service step', () => {
    const call = tp(0, { channel: 'phone' });
    expect(types([tp(59, { outcome: 'abandoned' }), call])).toEqual([`self_service_failure@${call.event_id}`]);
    expect(types([tp(61, { outcome: 'failed' }), tp(0, { channel: 'phone' })])).toEqual([]);
    expect(types([tp(30, { outcome: 'completed' }), tp(0, { channel: 'phone' })])).toEqual([]);
  });

  it('SLA: over, not at, the channel limits', () => {
    expect(types([tp(0, { channel: 'phone', wait_ms: 120_001 })])).toHaveLength(1);
    expect(types([tp(0, { channel: 'phone', wait_ms: 120_000, duration_ms: 600_000 })])).toEqual([]);
    expect(types([tp(0, { channel: 'chat', wait_ms: 61_000 })])).toHaveLength(1);
    expect(types([tp(0, { channel: 'chat', duration_ms: 900_000 })])).toEqual([]);
  });

  it('sentiment decline: strictly down over the last three, by at least 0.5', () => {
    const last = tp(0, { sentiment: 0.1 });
    expect(types([tp(20, { sentiment: 0.7 }), tp(10, { sentiment: 0.4 }), last])).toEqual([`sentiment_decline@${last.event_id}`]);
    expect(types([tp(20, { sentiment: 0.5 }), tp(10, { sentiment: 0.35 }), tp(0, { sentiment: 0.2 })])).toEqual([]);
    expect(types([tp(20, { sentiment: 0.7 }), tp(10, { sentiment: 0.75 }), tp(0, { sentiment: 0.1 })])).toEqual([]);
  });

  it('repeated errors: the second error touchpoint within the hour, then not again within the hour', () => {
    const second = tp(40, { touchpoint: 'otp_failed' });
    expect(types([tp(50, { touchpoint: 'login_failed' }), second, tp(30, { touchpoint: 'error_page' })])).toEqual([`repeated_error@${second.event_id}`]);
    expect(types([tp(61, { touchpoint: 'login_failed' }), tp(0, { touchpoint: 'otp_failed' })])).toEqual([]);
    // The rest ends exactly one window after the firing; the error then (inclusive window) makes two again.
    const fired = tp(80, { touchpoint: 'otp_failed' });
    const again = tp(20, { touchpoint: 'error_page' });
    expect(types([tp(90, { touchpoint: 'login_failed' }), fired, again])).toEqual([`repeated_error@${fired.event_id}`, `repeated_error@${again.event_id}`]);
  });

  it('journey timer: started and not completed is due after the expected duration; completed clears it', () => {
    const started = tp(1, { journey: TIMED_JOURNEY, outcome: 'started' });
    expect(expectedSignals([started], NOW, rules)).toEqual([{ type: 'journey_not_completed', event_id: started.event_id, dueAtMs: started.occurredAtMs + TIMER_MS }]);
    expect(types([tp(1, { journey: TIMED_JOURNEY, outcome: 'started' }), tp(0, { journey: TIMED_JOURNEY, outcome: 'resolved' })])).toEqual([]);
  });

  it('nothing beyond the 30-day horizon', () => {
    expect(types([tp(31 * 24 * 60, { survey: { kind: 'NPS', score: 0 }, sentiment: -1, reason: 'complaint', outcome: 'escalated' })])).toEqual([]);
    expect(types([tp(29 * 24 * 60, { survey: { kind: 'CES', score: 6 } })])).toHaveLength(1);
  });
});
