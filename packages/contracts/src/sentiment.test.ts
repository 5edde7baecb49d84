import { describe, expect, it } from 'vitest';
import { codecs, createCodec, loadSchemaFile, createTouchpointValidator, scoreText, sentimentClass, sentimentOf, textOf } from './index.ts';
import { touchpointEvent } from './fixtures.ts';

const sampleTouchpoint = touchpointEvent({
  event_id: 'e-1', customer_id: 'c-1', occurred_at: 1_790_000_000_123_456, received_at: 1_790_000_000_200_000, touchpoint: 'chat_message',
  channel: 'chat', survey: { kind: 'CSAT', score: 2, comment: 'slow' }, text: 'Still not fixed, I am really frustrated.',
});

describe('touchpoint schema evolution (text)', () => {
  it('reads a touchpoint written with the v1 schema (no text) as text null', () => {
    const { text: _text, ...v1Event } = sampleTouchpoint;
    const v1 = createCodec<typeof v1Event>(loadSchemaFile('touchpoint.v1.avsc'));
    expect(codecs.touchpoint.decode(v1.encode(v1Event))).toEqual({ ...v1Event, text: null });
  });

  it('accepts text over HTTP up to its own bound (longer than names), and rejects longer', () => {
    const validator = createTouchpointValidator();
    const base = { customer_id: 'c', occurred_at: 1_790_000_000_000, channel: 'chat', touchpoint: 'chat_message', initiator: 'customer' };
    const ok = validator.validate({ ...base, text: 'x'.repeat(3000) }, 1_790_000_000_000);
    expect(ok.ok && ok.event.text).toHaveLength(3000);
    const missing = validator.validate(base, 1_790_000_000_000);
    expect(missing.ok && missing.event.text).toBeNull();
    const long = validator.validate({ ...base, text: 'x'.repeat(4001) }, 1_790_000_000_000);
    expect(long).toEqual({ ok: false, errors: ['text: must NOT have more than 4000 characters'] });
  });
});

describe('text sentiment (wink-sentiment)', () => {
  it('scores plain, negated and strong texts in −1…1 with tanh(normalised / 2)', () => {
    // wink: "terrible" is −3, normalised −3 → tanh(−1.5) = −0.905; "good" +3 negated by "not" → −3 → −0.905.
    expect(scoreText('Terrible.')).toBe(-0.905);
    expect(scoreText('Not good enough.')).toBe(-0.905);
    expect(scoreText('Thanks so much, that fixed it right away!')).toBeGreaterThan(0.5);
    expect(scoreText('I need to update my billing address.')).toBe(0);
    expect(scoreText('   ')).toBeNull();
  });

  it('classifies with a neutral band of ±0.1', () => {
    expect([0.1, 0.099, 0, -0.099, -0.1].map(sentimentClass)).toEqual(['positive', 'neutral', 'neutral', 'neutral', 'negative']);
  });

  it('keeps a given number, else derives from text, else from the survey comment, else none', () => {
    const survey = { kind: 'CSAT' as const, score: 2, comment: 'Rude staff.' };
    expect(sentimentOf({ sentiment: 0.4, text: 'Terrible.', survey })).toEqual({ sentiment: 0.4, source: 'given' });
    expect(sentimentOf({ sentiment: null, text: 'Terrible.', survey })).toEqual({ sentiment: -0.905, source: 'derived' });
    expect(sentimentOf({ sentiment: null, text: ' ', survey })).toEqual({ sentiment: scoreText('Rude staff.'), source: 'derived' });
    expect(sentimentOf({ sentiment: null, text: null, survey: null })).toEqual({ sentiment: null, source: null });
    expect(textOf({ text: null, survey: { ...survey, comment: '' } })).toBeNull();
  });
});
