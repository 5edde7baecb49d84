// Preloaded by ./touchstream (`node --import tsx --import ./apps/touchstream/src/telemetry.ts …`), the way
// OpenTelemetry instruments ES modules: the import hook and the SDK must be in place before the application's
// modules (kafkajs, ioredis, http) are loaded, and ES modules are all loaded before any of them runs — so this
// cannot be an import inside main.ts. Does nothing unless OTEL_EXPORTER_OTLP_ENDPOINT (or an exporter) is set.
import { preloadTelemetry } from '@touchstream/telemetry';
import pkg from '../package.json' with { type: 'json' };

await preloadTelemetry({ serviceName: 'touchstream', serviceVersion: pkg.version, env: process.env });
