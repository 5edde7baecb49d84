import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backoffDelayMs, deliverWithRetries, retryAfterMs, signPayload, verifySignature } from './delivery.ts';
import type { WebhookDestination } from './destinations.ts';
import { startTestReceiver, type TestReceiver } from './test-receiver.ts';

const secret = 'test-secret-0123456789';
let receiver: TestReceiver;

beforeAll(async () => {
  receiver = await startTestReceiver((path, nth) => {
    if (path === '/flaky') return nth <= 2 ? 500 : 204;
    if (path === '/down') return 503;
    if (path === '/gone') return 410;
    if (path === '/busy') return { status: 429, headers: { 'retry-after': '0' } };
    if (path === '/moved') return { status: 301, headers: { location: 'http://elsewhere/' } };
    return 200;
  });
});
afterAll(() => receiver.close());

const destination = (path: string, maxAttempts = 3): WebhookDestination => ({
  name: path.slice(1),
  url: `${receiver.url}${path}`,
  secret,
  filter: { levels: null, journeys: null, channels: null },
  retry: { baseMs: 1, capMs: 5, maxAttempts },
});

describe('signature', () => {
  it('is HMAC-SHA256 over "<timestamp>.<body>" and verifies only with the right secret, body and a fresh timestamp', () => {
    const body = '{"type":"alert"}';
    const sig = signPayload(secret, 1_700_000_000, body);
    // Independent of our code: openssl's answer for the same input.
    // printf '1700000000.{"type":"alert"}' | openssl dgst -sha256 -hmac test-secret-0123456789
    expect(sig).toBe('sha256=0ff9fadb38100f6da8302a3ae0e931f2e12e31fbd8845bbb6420b7598966d625');
    const headers = { signature: sig, timestamp: '1700000000' };
    expect(verifySignature(secret, headers, body, { nowSeconds: 1_700_000_100 })).toBe(true);
    expect(verifySignature('other-secret-0123456789', headers, body, { nowSeconds: 1_700_000_100 })).toBe(false);
    expect(verifySignature(secret, headers, `${body} `, { nowSeconds: 1_700_000_100 })).toBe(false);
    expect(verifySignature(secret, { ...headers, timestamp: '1700000001' }, body, { nowSeconds: 1_700_000_100 })).toBe(false);
    expect(verifySignature(secret, headers, body, { nowSeconds: 1_700_000_000 + 301 })).toBe(false);
  });
});

describe('backoff', () => {
  it('waits a uniformly random time up to min(cap, base·2^(attempt−1)) (full jitter)', () => {
    const policy = { baseMs: 100, capMs: 1000, maxAttempts: 10 };
    expect([1, 2, 3, 4, 5, 6].map((a) => backoffDelayMs(a, policy, () => 0.999999))).toEqual([99, 199, 399, 799, 999, 999]);
    expect(backoffDelayMs(4, policy, () => 0)).toBe(0);
    expect(backoffDelayMs(2, policy, () => 0.5)).toBe(100);
  });

  it('reads Retry-After as seconds or a date', () => {
    expect(retryAfterMs('3', 0)).toBe(3000);
    expect(retryAfterMs(new Date(10_000).toUTCString(), 4_000)).toBe(6000);
    expect(retryAfterMs('soon', 0)).toBeUndefined();
    expect(retryAfterMs(null, 0)).toBeUndefined();
  });
});

describe('deliverWithRetries against a real HTTP receiver', () => {
  const deliver = (path: string, alertId: string, maxAttempts?: number) =>
    deliverWithRetries({ destination: destination(path, maxAttempts), alertId, body: `{"alert":"${alertId}"}`, timeoutMs: 2000 });

  it('sends the signed body with the alert id as idempotency key', async () => {
    expect(await deliver('/ok', 'a-ok')).toEqual({ kind: 'delivered', attempts: 1, status: 200 });
    const [req] = receiver.to('/ok');
    expect(req!.headers['idempotency-key']).toBe('a-ok');
    expect(req!.headers['x-touchstream-alert-id']).toBe('a-ok');
    expect(req!.headers['content-type']).toBe('application/json');
    expect(verifySignature(secret, { signature: String(req!.headers['x-touchstream-signature']), timestamp: String(req!.headers['x-touchstream-timestamp']) }, req!.body)).toBe(true);
  });

  it('retries 5xx until delivered', async () => {
    expect(await deliver('/flaky', 'a-flaky', 5)).toEqual({ kind: 'delivered', attempts: 3, status: 204 });
    expect(receiver.to('/flaky').map((r) => r.status)).toEqual([500, 500, 204]);
  });

  it('retries 429 and gives up after maxAttempts with the last reason', async () => {
    expect(await deliver('/busy', 'a-busy', 2)).toEqual({ kind: 'failed', attempts: 2, reason: 'gave up after 2 attempts; last: HTTP 429' });
    expect(await deliver('/down', 'a-down', 3)).toMatchObject({ kind: 'failed', attempts: 3, reason: 'gave up after 3 attempts; last: HTTP 503' });
  });

  it('does not retry a 4xx or a redirect', async () => {
    expect(await deliver('/gone', 'a-gone', 5)).toMatchObject({ kind: 'failed', attempts: 1, reason: expect.stringMatching(/^permanent failure: HTTP 410/) });
    expect(await deliver('/moved', 'a-moved', 5)).toMatchObject({ kind: 'failed', attempts: 1, reason: expect.stringMatching(/redirect to http:\/\/elsewhere\//) });
  });

  it('retries a connection refused', async () => {
    const closed = await startTestReceiver(() => 200);
    await closed.close();
    const dest = { ...destination('/x'), url: `${closed.url}/x` };
    const out = await deliverWithRetries({ destination: dest, alertId: 'a', body: '{}', timeoutMs: 2000 });
    expect(out).toMatchObject({ kind: 'failed', attempts: 3, reason: expect.stringMatching(/ECONNREFUSED/) });
  });

  it('stops waiting at once when aborted (shutdown)', async () => {
    const shutdown = new AbortController();
    const dest = { ...destination('/down', 5), retry: { baseMs: 60_000, capMs: 60_000, maxAttempts: 5 } };
    const pending = deliverWithRetries({ destination: dest, alertId: 'a-abort', body: '{}', timeoutMs: 2000, signal: shutdown.signal, random: () => 1 });
    setTimeout(() => shutdown.abort(new Error('stopping')), 50);
    await expect(pending).rejects.toThrow(/stopping/);
  });
});
