export * from './modules.ts';
export * from './http.ts';
