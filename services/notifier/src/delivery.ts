// One webhook delivery: a signed POST, retried with exponential backoff and full jitter until the receiver
// answers 2xx, answers with a permanent failure, or the attempts run out.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { WebhookDestination, RetryPolicy } from './destinations.ts';

export const signatureHeader = 'x-touchstream-signature';
export const timestampHeader = 'x-touchstream-timestamp';
export const alertIdHeader = 'x-touchstream-alert-id';

/**
 * `sha256=<hex>` of HMAC-SHA256(secret, `<timestamp>.<raw body>`). The timestamp (unix seconds, also sent
 * in X-Touchstream-Timestamp) is part of the signed text, so a receiver that rejects old timestamps also
 * rejects a captured request replayed later.
 */
export function signPayload(secret: string, timestampSeconds: number, rawBody: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestampSeconds}.${rawBody}`).digest('hex')}`;
}

/** What a receiver does (shown in the README): recompute, compare in constant time, bound the age. */
export function verifySignature(
  secret: string,
  headers: { signature?: string; timestamp?: string },
  rawBody: string,
  opts: { nowSeconds?: number; toleranceSeconds?: number } = {},
): boolean {
  const ts = Number(headers.timestamp);
  if (!headers.signature || !Number.isInteger(ts)) return false;
  const now = opts.nowSeconds ?? Math.floor(Date.now() / 1000);
  if (Math.abs(now - ts) > (opts.toleranceSeconds ?? 300)) return false;
  const expected = Buffer.from(signPayload(secret, ts, rawBody));
  const given = Buffer.from(headers.signature);
  return expected.length === given.length && timingSafeEqual(expected, given);
}

export type AttemptResult =
  | { kind: 'delivered'; status: number }
  /** Worth another try (network error, timeout, 5xx, 408, 429). */
  | { kind: 'retry'; reason: string; retryAfterMs?: number }
  /** Another try would get the same answer (4xx other than 408/429, a redirect). */
  | { kind: 'permanent'; reason: string };

export interface AttemptRequest {
  destination: WebhookDestination;
  alertId: string;
  body: string;
  attempt: number;
  timeoutMs: number;
  nowMs: number;
  signal?: AbortSignal;
  fetch?: typeof fetch;
}

/** Retry-After as seconds or an HTTP date; undefined when absent or unreadable. */
export function retryAfterMs(value: string | null, nowMs: number): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

export async function attemptDelivery(req: AttemptRequest): Promise<AttemptResult> {
  const timestamp = Math.floor(req.nowMs / 1000);
  const timeout = AbortSignal.timeout(req.timeoutMs);
  const signal = req.signal ? AbortSignal.any([req.signal, timeout]) : timeout;
  let response: Response;
  try {
    response = await (req.fetch ?? fetch)(req.destination.url, {
      method: 'POST',
      body: req.body,
      // A signed POST is not followed to another URL: configure the final one.
      redirect: 'manual',
      signal,
      headers: {
        'content-type': 'application/json',
        'user-agent': 'touchstream-notifier',
        [signatureHeader]: signPayload(req.destination.secret, timestamp, req.body),
        [timestampHeader]: String(timestamp),
        [alertIdHeader]: req.alertId,
        'idempotency-key': req.alertId,
        'x-touchstream-attempt': String(req.attempt),
      },
    });
  } catch (err) {
    if (req.signal?.aborted) throw req.signal.reason;
    const cause = (err as Error & { cause?: Error }).cause;
    const what = timeout.aborted ? `no answer within ${req.timeoutMs} ms` : `${(err as Error).message}${cause ? ` (${cause.message})` : ''}`;
    return { kind: 'retry', reason: what };
  }
  // Only the status matters; reading the body would let a slow receiver hold the delivery.
  await response.body?.cancel().catch(() => undefined);
  const status = response.status;
  if (status >= 200 && status < 300) return { kind: 'delivered', status };
  if (status === 408 || status === 429 || status >= 500) {
    return { kind: 'retry', reason: `HTTP ${status}`, retryAfterMs: retryAfterMs(response.headers.get('retry-after'), req.nowMs) };
  }
  if (status >= 300 && status < 400) {
    return { kind: 'permanent', reason: `HTTP ${status} redirect to ${response.headers.get('location') ?? '?'} (redirects are not followed; configure the final URL)` };
  }
  return { kind: 'permanent', reason: `HTTP ${status} (a 4xx other than 408/429 is not retried; fix the receiver or its configuration)` };
}

/**
 * "Full jitter" (AWS Architecture Blog, Exponential Backoff and Jitter): a uniformly random wait between 0
 * and min(cap, base · 2^(attempt−1)), so receivers recovering from an outage are not hit in lockstep.
 */
export function backoffDelayMs(attempt: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.capMs, policy.baseMs * 2 ** (attempt - 1));
  return Math.floor(random() * ceiling);
}

export type DeliveryOutcome =
  | { kind: 'delivered'; attempts: number; status: number }
  | { kind: 'failed'; attempts: number; reason: string };

export interface DeliverOptions {
  destination: WebhookDestination;
  alertId: string;
  body: string;
  timeoutMs: number;
  /** Aborted on shutdown: the wait ends and the delivery throws (the batch is not committed, so it comes back). */
  signal?: AbortSignal;
  /** Called while waiting between attempts, so a long backoff does not cost the consumer its group membership. */
  keepAlive?: () => Promise<void>;
  now?: () => number;
  random?: () => number;
  fetch?: typeof fetch;
}

/** Longest single sleep between keep-alive calls. */
const keepAliveEveryMs = 2_000;

async function wait(ms: number, signal: AbortSignal | undefined, keepAlive: (() => Promise<void>) | undefined) {
  let left = ms;
  while (left > 0) {
    const step = Math.min(left, keepAliveEveryMs);
    await sleep(step, undefined, { signal }).catch((err: unknown) => {
      throw signal?.aborted ? signal.reason : err;
    });
    left -= step;
    await keepAlive?.();
  }
}

export async function deliverWithRetries(opts: DeliverOptions): Promise<DeliveryOutcome> {
  const policy = opts.destination.retry;
  const now = opts.now ?? Date.now;
  let lastReason = '';
  for (let attempt = 1; attempt <= policy.maxAttempts; attempt++) {
    opts.signal?.throwIfAborted();
    const result = await attemptDelivery({
      destination: opts.destination,
      alertId: opts.alertId,
      body: opts.body,
      attempt,
      timeoutMs: opts.timeoutMs,
      nowMs: now(),
      signal: opts.signal,
      fetch: opts.fetch,
    });
    if (result.kind === 'delivered') return { kind: 'delivered', attempts: attempt, status: result.status };
    if (result.kind === 'permanent') return { kind: 'failed', attempts: attempt, reason: `permanent failure: ${result.reason}` };
    lastReason = result.reason;
    if (attempt < policy.maxAttempts) {
      const jittered = backoffDelayMs(attempt, policy, opts.random);
      // A receiver's Retry-After is honoured up to the cap.
      const delay = Math.min(policy.capMs, Math.max(jittered, result.retryAfterMs ?? 0));
      await wait(delay, opts.signal, opts.keepAlive);
    }
  }
  return { kind: 'failed', attempts: policy.maxAttempts, reason: `gave up after ${policy.maxAttempts} attempts; last: ${lastReason}` };
}
