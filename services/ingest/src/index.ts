export { createIngestModule } from './module.ts';
export { ingestPlugin, resolveIngestLimits, type IngestDeps, type IngestLimits, type IngestProducer } from './plugin.ts';
export { parseEventsBody, mediaKindOf, acceptedMediaTypes, type BodyItem, type ParsedBody, type BodyMediaKind } from './body.ts';
export { prepareBatch, deadLetterMessage, derivedEventId, type PreparedBatch, type RejectedEvent, type IngestMessage } from './batch.ts';
export {
  defaultSegmentMapping,
  defaultSegmentMappingDocument,
  mapSegmentMessage,
  parseSegmentMapping,
  segmentMappingSchema,
  type SegmentMapping,
  type SegmentMappingDocument,
} from './segment/mapping.ts';
