// Webhook destinations and which alerts each one wants. The configuration layer (apps/touchstream)
// reads and validates the file; this package only takes the typed result.

export interface RetryPolicy {
  /** First backoff ceiling; doubles per attempt. */
  baseMs: number;
  /** Upper bound of any single wait. */
  capMs: number;
  /** Attempts in total (the first one included) before the delivery is dead-lettered. */
  maxAttempts: number;
}

export interface AlertFilter {
  /** Only these levels; null: every level. */
  levels: string[] | null;
  /** Only alerts whose triggering touchpoint is in one of these journeys; null: any (also none). */
  journeys: string[] | null;
  /** Only alerts whose triggering touchpoint came from one of these channels; null: any. */
  channels: string[] | null;
}

export interface WebhookDestination {
  /** Stable name: part of the delivery record in Redis and of dead letters (`webhook:<name>`). */
  name: string;
  url: string;
  secret: string;
  filter: AlertFilter;
  retry: RetryPolicy;
}

export interface NotifierSettings {
  destinations: WebhookDestination[];
  /** Per attempt. */
  timeoutMs: number;
  /** How long a (alert_id, destination) delivery is remembered; longer than alerts.v1's retention. */
  deliveredTtlMs: number;
  /** Customers delivered to at the same time per destination (one customer's alerts go out in order). */
  concurrency: number;
}

export const defaultRetryPolicy: RetryPolicy = { baseMs: 1_000, capMs: 60_000, maxAttempts: 8 };

export const defaultNotifierSettings: Omit<NotifierSettings, 'destinations'> = {
  timeoutMs: 10_000,
  deliveredTtlMs: 8 * 24 * 3600 * 1000,
  concurrency: 8,
};

export function matchesFilter(alert: { level: string; journey?: string | null; channel?: string | null }, f: AlertFilter): boolean {
  if (f.levels && !f.levels.includes(alert.level)) return false;
  if (f.journeys && (!alert.journey || !f.journeys.includes(alert.journey))) return false;
  if (f.channels && (!alert.channel || !f.channels.includes(alert.channel))) return false;
  return true;
}
