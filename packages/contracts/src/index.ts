export * from './generated.ts';
export { codecFor, createCodec, SchemaError, rabinFingerprint, fingerprintOf, schemasDir, loadSchemaFile, type Codec } from './avro.ts';
export * from './validation.ts';
export { createProfileValidator, profileInputJsonSchema, derivedProfileId, attributeText, defaultProfileLimits, type ProfileLimits, type ProfileValidator, type ProfileValidationResult } from './profile-validation.ts';
export { codecs } from './codecs.ts';
export {
  alertJson,
  alertLevels,
  alertLevelRank,
  alertLevelsFrom,
  customerLevels,
  microsToIsoUtc,
  type AlertJson,
  type AlertLevelName,
  type CustomerLevel,
} from './alert-json.ts';
export { signalTypes, type SignalType } from './signal-types.ts';
export { decayedScore } from './score.ts';
export { scoreText, sentimentClass, sentimentOf, textOf, NEUTRAL_BAND, type SentimentSource } from './sentiment.ts';
export {
  customerStateKey,
  customerTimelineKey,
  customerSeenKey,
  customerSeenIndexKey,
  customerDueKey,
  customerTimersKey,
  customerKeys,
  defaultTimerIndexKey,
} from './redis-layout.ts';
export { pseudonymousCustomerId, erasureKey, encodeErasureRecord, decodeErasureRecord, type ErasureRecord } from './privacy.ts';
