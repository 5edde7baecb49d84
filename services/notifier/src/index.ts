export { createNotifierModule, defaultNotifierGroupId, type NotifierModule, type NotifierModuleDeps } from './module.ts';
export { createAlertNotifier, webhookBody, deliveredKey, type AlertNotifier, type NotifierStats } from './notifier.ts';
export { signPayload, verifySignature, backoffDelayMs, attemptDelivery, deliverWithRetries, retryAfterMs, signatureHeader, timestampHeader, alertIdHeader } from './delivery.ts';
export { defaultRetryPolicy, defaultNotifierSettings, matchesFilter, type WebhookDestination, type RetryPolicy, type AlertFilter, type NotifierSettings } from './destinations.ts';
