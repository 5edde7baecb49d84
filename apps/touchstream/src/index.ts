// What the developer tools (tools/cli) and the end-to-end suites use of the executable.
export { startApp, VERSION, type RunningApp } from './app.ts';
export { loadConfig, environment, configShape, ConfigError, type Config } from './config.ts';
export { runCommand } from './run-command.ts';
export { fail, onShutdown } from './shutdown.ts';
