export * from './generated.ts';
export { codecFor, createCodec, SchemaError, rabinFingerprint, fingerprintOf, schemasDir, loadSchemaFile, type Codec } from './avro.ts';
export * from './validation.ts';
export { codecs } from './codecs.ts';
export { alertJson, alertLevels, alertLevelRank, microsToIsoUtc, type AlertJson, type AlertLevelName } from './alert-json.ts';
