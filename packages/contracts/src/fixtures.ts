// Test fixtures shaped like the contracts (imported as @touchstream/contracts/fixtures, by tests only).
import type { TouchpointEvent } from './generated.ts';

/** What a test touchpoint must name; the rest defaults to a customer on the web with no optional fields. */
export type TouchpointIdentity = Pick<TouchpointEvent, 'event_id' | 'customer_id' | 'occurred_at' | 'received_at' | 'touchpoint'>;

/**
 * A touchpoint on channel 'web', initiated by the customer, every optional field null and no attributes;
 * `fields` (the identity and any overrides) wins over the defaults. The keys keep the contract's order.
 */
export function touchpointEvent(fields: TouchpointIdentity & Partial<TouchpointEvent>): TouchpointEvent {
  const { event_id, customer_id, occurred_at, received_at, touchpoint, ...rest } = fields;
  return {
    event_id,
    customer_id,
    occurred_at,
    received_at,
    channel: 'web',
    touchpoint,
    initiator: 'customer',
    journey: null,
    stage: null,
    reason: null,
    outcome: null,
    duration_ms: null,
    wait_ms: null,
    sentiment: null,
    survey: null,
    agent_id: null,
    session_id: null,
    attributes: {},
    text: null,
    ...rest,
  };
}
