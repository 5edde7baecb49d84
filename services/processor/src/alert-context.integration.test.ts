// The alert carries the journey and channel of the touchpoint that raised it (webhook and SSE filters use
// them), and a redelivered touchpoint re-emits the same alert with them, byte for byte.
import { describe, expect, it } from 'vitest';
import { codecs } from '@touchstream/contracts';
import { createTouchpointProcessor } from './processor.ts';
import { HOUR_MS, useTestRedis, touchpoint, uniqueCustomer } from '@touchstream/testkit';

const redis = useTestRedis();

const NOW_MS = Date.UTC(2026, 4, 1, 12, 0, 0);

describe('alert context', () => {
  it('names the journey and channel of the triggering touchpoint', async () => {
    const c = uniqueCustomer('alert-context');
    const p = createTouchpointProcessor({ redis: redis.client, now: () => NOW_MS });
    const survey = touchpoint(c, NOW_MS - HOUR_MS, {
      channel: 'email', touchpoint: 'nps_survey', initiator: 'company', journey: 'billing_support', survey: { kind: 'NPS', score: 2, comment: null },
    });
    const [first] = await p.processTouchpoints([survey]);
    expect(first!.alert).toMatchObject({ level: 'watch', journey: 'billing_support', channel: 'email' });
    // Survives the Avro round trip to alerts.v1.
    expect(codecs.alert.decode(codecs.alert.encode(first!.alert!))).toMatchObject({ journey: 'billing_support', channel: 'email' });
    const [again] = await p.processTouchpoints([survey]);
    expect(again).toMatchObject({ duplicate: true, alert: first!.alert });

    const noJourney = touchpoint(uniqueCustomer('alert-context'), NOW_MS - HOUR_MS, { channel: 'chat', sentiment: -0.9, survey: { kind: 'CSAT', score: 1, comment: null } });
    const [second] = await p.processTouchpoints([noJourney]);
    expect(second!.alert).toMatchObject({ journey: null, channel: 'chat' });
  });
});
