export * from './types.ts';
export * from './client.ts';
export * from './topics.ts';
export * from './consumer.ts';
export * from './health.ts';
export * from './lag.ts';
export * from './erasures.ts';
