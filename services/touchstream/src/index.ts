export { startApp, VERSION, type RunningApp } from './app.ts';
export { loadConfig, configSchema, ConfigError, type Config, TARGETS, type Target } from './config.ts';
export { startDemoTraffic, JOURNEYS, seededRng, type DemoEvent } from './demo.ts';
