// Fixtures shared by the test tiers: touchpoint builders and unique ids, so tests sharing one stack never
// see each other's data.
import type { TouchpointEvent } from '@touchstream/contracts';
import { touchpointEvent } from '@touchstream/contracts/fixtures';

export const MINUTE_MS = 60_000;
export const HOUR_MS = 60 * MINUTE_MS;
export const DAY_MS = 24 * HOUR_MS;

let sequence = 0;

/** A touchpoint with sensible defaults; `occurredAtMs` is event time in epoch ms. */
export function touchpoint(
  customerId: string,
  occurredAtMs: number,
  fields: Partial<TouchpointEvent> = {},
): TouchpointEvent {
  sequence++;
  return touchpointEvent({
    event_id: `evt-${customerId}-${sequence}`,
    customer_id: customerId,
    occurred_at: occurredAtMs * 1000,
    received_at: occurredAtMs * 1000,
    touchpoint: 'account_page',
    ...fields,
  });
}

/** A unique customer id per call, so tests sharing one Redis never see each other's state. */
export function uniqueCustomer(label: string): string {
  return `${label}-${process.pid}-${Date.now().toString(36)}-${(sequence++).toString(36)}`;
}
