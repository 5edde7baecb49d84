// The shared test kit: one stack per run (global-setup.ts), the engines' endpoints, private Redis for the
// tests that need one, fixtures, polling, and the tests' own settings.
export { eventually, type EventuallyOptions } from './eventually.ts';
export { sharedTestRedis, startTestRedis, useTestRedis, type TestRedis } from './redis.ts';
export { touchpoint, uniqueCustomer, MINUTE_MS, HOUR_MS, DAY_MS } from './fixtures.ts';
export { testSettings, childEnv, type TestSettings } from './settings.ts';
export { sharedEngines, type SharedEngines } from './engines.ts';
