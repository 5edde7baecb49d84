export * from './modules.ts';
export * from './http.ts';
export * from './access.ts';
export * from './redis.ts';
export * from './watched-file.ts';
export * from './random.ts';
