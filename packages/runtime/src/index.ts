export * from './modules.ts';
export * from './http.ts';
export * from './redis.ts';
